"""The node's segmenter and the one-graph export, checked through ONNX Runtime."""
import numpy as np
import pytest
import torch

from ros2_ssvif.model_runner import FusionSegmenter
from training.checkpoint import CheckpointError, save_checkpoint
from training.export import DeployGraph, ExportError, export_onnx
from training.models import build_fusion_model
from training.models.segformer import SegmentationModel
from training.segmenter import (ScaledSegmenter, SegmenterConfig, load_segmenter, save_segmenter,
                                train_segmenter)

TINY_FUSION = dict(width=8, context_width=8, blocks=1, context_blocks=1)


class Squares(torch.utils.data.Dataset):
    """Bright squares are class 9 (car), the rest class 1 (road): learnable in a few steps."""

    def __init__(self, n=8, size=48, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            lab = torch.ones(size, size, dtype=torch.long)
            y, x = (int(v) for v in torch.randint(0, size - 16, (2,), generator=g))
            lab[y:y + 16, x:x + 16] = 9
            vis = torch.full((3, size, size), 0.2)
            vis[:, lab == 9] = 0.9
            self.items.append({"visible": vis, "thermal": vis[:1].clone(), "label": lab})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Identity(torch.nn.Module):
    """A fusion model that returns the visible image (keeps the segmenter test about the segmenter)."""

    def forward(self, visible, thermal):
        return type("Out", (), {"fused": visible})()


@pytest.mark.parametrize("variant", ["tiny", "compact"])
def test_segmenter_learns_and_round_trips(tmp_path, variant):
    torch.manual_seed(0)
    cfg = SegmenterConfig(variant=variant, epochs=12, batch_size=4, freeze_epochs=0, lr=3e-3, crop=None,
                          patience=12, scale=0.5)
    res = train_segmenter(Identity(), Squares(16, size=64), Squares(4, size=64, seed=1), cfg, tmp_path / "seg.pt",
                          progress=False)
    losses = [h["loss"] for h in res.history]
    assert losses[-1] < 0.5 * losses[0], losses
    model, cfg2 = load_segmenter(res.checkpoint)
    assert cfg2.scale == 0.5 and cfg2.num_classes == 15 and isinstance(model, ScaledSegmenter)
    x = Squares(1, size=64, seed=3)[0]["visible"][None]
    with torch.no_grad():
        assert torch.equal(model(x).argmax(1), res.model.eval()(x).argmax(1))
        assert model(x).shape == (1, 15, 64, 64)  # logits back at full size after segmenting at half


def test_frozen_encoder_phase_leaves_encoder_weights_unchanged():
    cfg = SegmenterConfig(variant="tiny", epochs=1, batch_size=4, freeze_epochs=1, lr=1e-2, crop=None)
    torch.manual_seed(0)
    before = SegmentationModel("tiny", 15).segformer.segformer.state_dict()
    torch.manual_seed(0)
    res = train_segmenter(Identity(), Squares(), None, cfg, progress=False)
    after = res.model.model.segformer.segformer.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_load_segmenter_refuses_other_checkpoints(tmp_path):
    save_checkpoint(tmp_path / "x.pt", {"kind": "fusion", "models": {}})
    with pytest.raises(CheckpointError, match="not a segmenter checkpoint"):
        load_segmenter(tmp_path / "x.pt")


@pytest.mark.slow
def test_export_matches_pytorch_through_the_runtime(tmp_path):
    torch.manual_seed(0)
    fusion = build_fusion_model("realtime", **TINY_FUSION).eval()
    seg = ScaledSegmenter(SegmentationModel("tiny", 15), 0.5).eval()
    with torch.no_grad():  # make class ids depend on the image (random-init logits are near-ties)
        seg.model.segformer.decode_head.classifier.weight.mul_(50)
    report = export_onnx(fusion, seg, tmp_path / "m.onnx", "fmb", sample_hw=(64, 96),
                         extra={"fusion_backbone": "realtime"})
    assert report["max_abs_diff_fused"] <= 1e-4 and report["dynamic"]
    runner = FusionSegmenter(tmp_path / "m.onnx")
    assert runner.class_names[9] == "car" and runner.metadata.extra["fusion_backbone"] == "realtime"
    rng = np.random.default_rng(0)
    vis = rng.integers(0, 256, (70, 100, 3), dtype=np.uint8)  # not a multiple of 32: padded by the runtime
    thr = rng.random((70, 100), dtype=np.float32)
    fused, ids = runner(vis, thr)
    v = torch.from_numpy(vis).permute(2, 0, 1)[None].float() / 255
    t = torch.from_numpy(thr)[None, None]
    pad = (0, 28, 0, 26)
    with torch.no_grad():
        ref_fused, ref_ids = DeployGraph(fusion, seg)(torch.nn.functional.pad(v, pad, mode="reflect"),
                                                      torch.nn.functional.pad(t, pad, mode="reflect"))
    ref = (ref_fused[0, :, :70, :100].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.abs(fused.astype(int) - ref).max() <= 1
    assert (ids == ref_ids[0, :70, :100].numpy()).mean() > 0.999


def test_export_refuses_a_class_list_mismatch(tmp_path):
    fusion = build_fusion_model("realtime", **TINY_FUSION).eval()
    with pytest.raises(ExportError, match="9 classes"):
        export_onnx(fusion, SegmentationModel("tiny", 9), tmp_path / "m.onnx", "fmb")


def test_segmenter_command_settings_and_errors(tmp_path, capsys):
    from training.segmenter import config_from_sets, main

    cfg = config_from_sets(["lr=3e-3", "variant=compact", "scale=0.5"], "msrs")
    assert cfg.lr == pytest.approx(0.003) and cfg.class_set == "msrs" and cfg.num_classes == 9
    with pytest.raises(ValueError, match="epochs must be a number"):
        config_from_sets(["epochs=many"])
    rc = main(["--fusion", str(tmp_path / "none.pt"), "--data-root", str(tmp_path), "--output", str(tmp_path / "s.pt")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("ssvif_train_segmenter: checkpoint not found") and err.count("\n") == 1
