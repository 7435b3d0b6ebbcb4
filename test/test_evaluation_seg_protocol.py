"""compare_segmentation: the same segmenter on each fusion's images, scored by mIoU (SSVIF Table I protocol)."""
import csv

import cv2
import numpy as np
import pytest
import torch

from evaluation.seg_protocol import BaselineFusion, main, run_protocol
from training.segmenter import SegmenterConfig

FAST = ["--set", "variant=compact", "--set", "epochs=8", "--set", "batch_size=3", "--set", "freeze_epochs=0",
        "--set", "lr=3e-3", "--set", "crop=null", "--set", "patience=8"]


@pytest.fixture
def one_thread():
    """Tiny convolutions run ~15x slower with 2 threads on the shared 2-core box than with 1."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def hot_cars(tmp_path):
    """12 synthetic_folder frames: car (9) where the thermal image is hot, road (1) elsewhere; visible is constant."""
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for d in ("visible", "thermal", "labels"):
        (root / d).mkdir(parents=True)
    for i in range(12):
        lab = np.ones((64, 64), np.uint8)
        for _ in range(2):
            y, x = rng.integers(0, 44, 2)
            lab[y:y + 20, x:x + 20] = 9
        th = (np.where(lab == 9, 220, 40) + rng.integers(0, 20, (64, 64))).astype(np.uint8)
        cv2.imwrite(str(root / "visible" / f"f{i:02d}.png"), np.full((64, 64, 3), 128, np.uint8))
        cv2.imwrite(str(root / "thermal" / f"f{i:02d}.png"), th)
        cv2.imwrite(str(root / "labels" / f"f{i:02d}.png"), lab)
    return root


def test_baselines_fuse_as_named():
    vis, th = torch.full((1, 3, 2, 2), 0.6), torch.tensor([0.2, 0.9, 0.0, 1.0]).view(1, 1, 2, 2)
    assert torch.equal(BaselineFusion("visible-only")(vis, th).fused, vis)
    assert torch.equal(BaselineFusion("thermal-only")(vis, th).fused, th.expand(1, 3, 2, 2))
    assert torch.allclose(BaselineFusion("average")(vis, th).fused[0, 0].flatten(), torch.tensor([0.4, 0.75, 0.3, 0.8]))
    assert torch.equal(BaselineFusion("max")(vis, th).fused[0, 2].flatten(), torch.tensor([0.6, 0.9, 0.6, 1.0]))
    with pytest.raises(ValueError, match="unknown baseline"):
        BaselineFusion("median")
    with pytest.raises(ValueError, match="no fusion method"):
        run_protocol({}, [1], None, [1], SegmenterConfig(), "fmb")


def test_thermal_only_beats_visible_only_and_reports_are_written(tmp_path, hot_cars, one_thread, capsys):
    out = tmp_path / "report"
    rc = main(["--data-root", str(hot_cars), "--data-kind", "synthetic_folder", "--baselines", "--output", str(out),
               "--no-progress", *FAST])
    assert rc == 0, capsys.readouterr().err
    assert "9 train / 1 val / 2 test" in capsys.readouterr().out  # 0.2 held out, then 9:1
    rows = list(csv.DictReader((out / "miou.csv").open()))
    methods = ["visible-only", "thermal-only", "average", "max"]
    # only the classes in the labels (road, car) are reported, then one mIoU row per method
    assert [(r["method"], r["class"]) for r in rows] == [(m, c) for m in methods for c in ("road", "car", "mIoU")]
    iou = {(r["method"], r["class"]): float(r["IoU"]) for r in rows}
    for m in methods:
        assert iou[m, "mIoU"] == pytest.approx((iou[m, "road"] + iou[m, "car"]) / 2, abs=1e-6)
    # measured: thermal-only 0.92, visible-only 0.24 (no information: at most ~0.5 by construction)
    assert iou["thermal-only", "mIoU"] >= 0.75
    assert iou["visible-only", "mIoU"] <= 0.5
    assert iou["thermal-only", "car"] >= 0.6
    md = (out / "summary.md").read_text().splitlines()
    assert "| Method | road | car | mIoU |" in md
    table = {line.split(" | ")[0][2:]: line for line in md if line.startswith("| ") and "Method" not in line}
    assert list(table) == methods
    assert table["thermal-only"].endswith(f"| **{iou['thermal-only', 'mIoU']:.4f}** |")
    assert f"{iou['visible-only', 'mIoU']:.4f} |" in table["visible-only"] and "**" not in table["visible-only"]
    assert sum("<u>" in table[m].rsplit("|", 2)[1] for m in methods) == 1  # one second best mIoU


@pytest.mark.parametrize("extra, message", [
    (["--data-kind", "kitti", "--baselines"], "unknown --data-kind 'kitti'"),
    (["--data-kind", "synthetic_folder", "--method", "ours=missing.pt"], "checkpoint not found"),
    (["--data-kind", "synthetic_folder", "--baselines", "--set", "epochs=many"], "epochs must be a number"),
    (["--data-kind", "synthetic_folder"], "nothing to compare"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, hot_cars, capsys, extra, message):
    rc = main(["--data-root", str(hot_cars), "--output", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("compare_segmentation: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()
