"""Export one ONNX graph for the vehicle: (visible, thermal) -> (fused, class_ids).

The fusion model and the segmenter are traced together so the node runs a
single ONNX Runtime session (one copy of the fused image, no Python between
the two networks). Class names, palette and the input convention travel
inside the file (``metadata_props``) where ros2_ssvif's model runner reads
them, so a model cannot be deployed with the wrong class list. After export
the graph is run with ONNX Runtime and compared with PyTorch; the largest
difference must stay below ``tolerance`` (1e-4) or the export fails.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ros2_ssvif.classes import CLASS_SETS
from ros2_ssvif.model_runner import INPUT_NAMES, METADATA_KEY, OUTPUT_NAMES, ModelMetadata


class DeployGraph(nn.Module):
    """visible (1,3,H,W) and thermal (1,1,H,W) in [0,1] -> fused (1,3,H,W), class ids (1,H,W) uint8."""

    def __init__(self, fusion: nn.Module, segmenter: nn.Module):
        super().__init__()
        self.fusion = fusion
        self.segmenter = segmenter

    def forward(self, visible: torch.Tensor, thermal: torch.Tensor):
        fused = self.fusion(visible, thermal).fused
        class_ids = self.segmenter(fused).argmax(1).to(torch.uint8)
        return fused, class_ids


class ExportError(RuntimeError):
    pass


def export_onnx(fusion: nn.Module, segmenter: nn.Module, path: str | Path, class_set: str = "fmb",
                sample_hw: tuple[int, int] = (96, 128), fixed_hw: tuple[int, int] | None = None,
                size_divisor: int = 32, opset: int = 18, tolerance: float = 1e-4, extra: dict | None = None) -> dict:
    """Write ``path`` and return a report with the ORT-vs-PyTorch difference.

    ``fixed_hw`` bakes one input size into the graph (needed by some
    TensorRT setups); otherwise height and width are dynamic and the
    runtime pads inputs to a multiple of ``size_divisor``.
    """
    import onnx
    import onnxruntime as ort

    names, palette = CLASS_SETS[class_set]
    n_classes = getattr(segmenter, "num_classes", len(names))
    if n_classes != len(names):
        raise ExportError(f"segmenter predicts {n_classes} classes but class set {class_set!r} has {len(names)}")
    graph = DeployGraph(fusion, segmenter).eval()
    h, w = fixed_hw or sample_hw
    gen = torch.Generator().manual_seed(0)
    vis = torch.rand(1, 3, h, w, generator=gen)
    thr = torch.rand(1, 1, h, w, generator=gen)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dyn = None if fixed_hw else {"visible": {2: "H", 3: "W"}, "thermal": {2: "H", 3: "W"},
                                 "fused": {2: "H", 3: "W"}, "class_ids": {1: "H", 2: "W"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (vis, thr), str(path), input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dyn, opset_version=opset,
                          dynamo=True, external_data=False)
    model = onnx.load(str(path))
    meta = ModelMetadata(list(names), [tuple(c) for c in palette], fixed_hw[0] if fixed_hw else None,
                         fixed_hw[1] if fixed_hw else None, size_divisor,
                         {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **(extra or {})})
    onnx.helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.save(model, str(path))
    # check at the sample size and, for dynamic graphs, at a second size
    sizes = [(h, w)] if fixed_hw else [(h, w), (h + size_divisor, w + 2 * size_divisor)]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst, agree = 0.0, 1.0
    for hh, ww in sizes:
        v = torch.rand(1, 3, hh, ww, generator=gen)
        t = torch.rand(1, 1, hh, ww, generator=gen)
        with torch.no_grad():
            ref_fused, ref_ids = graph(v, t)
        fused, ids = sess.run(list(OUTPUT_NAMES), {"visible": v.numpy(), "thermal": t.numpy()})
        worst = max(worst, float(np.abs(fused - ref_fused.numpy()).max()))
        agree = min(agree, float((ids == ref_ids.numpy()).mean()))
    report = {"path": str(path), "max_abs_diff_fused": worst, "class_id_agreement": agree,
              "sizes_checked": sizes, "classes": len(names), "dynamic": fixed_hw is None}
    if worst > tolerance:
        raise ExportError(f"ONNX Runtime differs from PyTorch by {worst:.2e} (> {tolerance:.0e}) on the fused image")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ssvif_export", description=__doc__.splitlines()[0])
    ap.add_argument("--fusion", required=True, help="fusion checkpoint written by ssvif_train")
    ap.add_argument("--segmenter", required=True, help="segmenter checkpoint written by ssvif_train_segmenter")
    ap.add_argument("--output", required=True, help="the .onnx file to write")
    ap.add_argument("--fixed-size", metavar="WxH", help="bake this input size into the graph")
    ap.add_argument("--opset", type=int, default=18)
    args = ap.parse_args(argv)
    try:
        from training.checkpoint import load_fusion_model
        from training.segmenter import load_segmenter

        fusion, spec = load_fusion_model(args.fusion)
        seg, seg_cfg = load_segmenter(args.segmenter)
        fixed = None
        if args.fixed_size:
            w, h = (int(v) for v in args.fixed_size.lower().split("x"))
            fixed = (h, w)
        report = export_onnx(fusion, seg, args.output, seg_cfg.class_set, fixed_hw=fixed, opset=args.opset,
                             extra={"fusion_backbone": spec.get("backbone"), "segmenter": seg_cfg.variant,
                                    "segmenter_scale": seg_cfg.scale})
    except (ExportError, FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        print(f"ssvif_export: {exc}", file=sys.stderr)
        return 1
    print(f"ssvif_export: wrote {report['path']} (ONNX Runtime vs PyTorch: max |diff| "
          f"{report['max_abs_diff_fused']:.1e} on the fused image, class ids agree on "
          f"{100 * report['class_id_agreement']:.2f} % of pixels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
