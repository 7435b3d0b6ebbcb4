"""Run an exported fusion+segmentation graph with ONNX Runtime.

The training package exports ONE graph, (visible, thermal) -> (fused,
class_ids), with its metadata (class names, palette, input size) stored in
the ONNX file itself so a model can never be paired with the wrong class
list. This module is the only place the runtime touches the model.

Execution providers are tried in the order given: ``tensorrt`` (Jetson /
GPU; FP16 and an engine cache are options), ``cuda``, ``cpu``. Providers
that this onnxruntime build lacks are skipped with a note, so one config
works on the vehicle and on a laptop. The TensorRT path cannot run on the
CPU-only machines this project is tested on: it is kept small and is
unverified there.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METADATA_KEY = "ros2_ssvif"
METADATA_FORMAT = "ros2_ssvif/fusion_segmenter"
INPUT_NAMES = ("visible", "thermal")
OUTPUT_NAMES = ("fused", "class_ids")

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


class ModelError(RuntimeError):
    """The model file is missing, corrupt or not a ros2_ssvif export."""


@dataclass
class ModelMetadata:
    class_names: list[str]
    palette: list[tuple[int, int, int]]
    input_height: int | None = None  # None: any size (padded to size_divisor)
    input_width: int | None = None
    size_divisor: int = 32
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        try:
            d = json.loads(text)
            if d.get("format") != METADATA_FORMAT:
                raise ModelError(f"model metadata format is {d.get('format')!r}, expected {METADATA_FORMAT!r}")
            names = [str(n) for n in d["class_names"]]
            palette = [tuple(int(c) for c in rgb) for rgb in d["palette"]]
            if len(palette) < len(names):
                raise ModelError(f"palette has {len(palette)} colours for {len(names)} classes")
            return cls(names, palette, d.get("input_height"), d.get("input_width"), int(d.get("size_divisor", 32)),
                       {k: v for k, v in d.items() if k not in {"class_names", "palette", "input_height",
                                                                 "input_width", "size_divisor"}})
        except ModelError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"model metadata is malformed: {exc!r}") from None

    def to_json(self) -> str:
        d = {"format": METADATA_FORMAT, "version": 1, **self.extra, "class_names": list(self.class_names),
             "palette": [list(map(int, c)) for c in self.palette], "input_height": self.input_height,
             "input_width": self.input_width, "size_divisor": int(self.size_divisor)}
        d["format"] = METADATA_FORMAT
        return json.dumps(d)


def resolve_providers(requested, available: list[str]) -> tuple[list, list[str]]:
    """Map short names to ORT providers, keep those this build has.

    Returns (providers for InferenceSession, notes about skipped ones).
    """
    out, notes = [], []
    for item in requested:
        name, opts = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
        full = PROVIDER_NAMES.get(str(name).lower(), str(name))
        if full not in available:
            notes.append(f"{full} is not available in this onnxruntime build; skipped")
            continue
        out.append((full, opts) if opts else full)
    if not out:
        out.append("CPUExecutionProvider")
        notes.append("no requested provider available; using CPUExecutionProvider")
    return out, notes


def tensorrt_options(fp16: bool = True, cache_dir: str = "") -> dict:
    """TensorRT EP options: FP16 kernels and a persistent engine cache
    (building an engine on a Jetson takes minutes; the cache makes that a
    one-off). Unverified here: no TensorRT on the test machines."""
    opts = {"trt_fp16_enable": bool(fp16)}
    if cache_dir:
        opts.update({"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir)})
    return opts


class FusionSegmenter:
    """(registered visible RGB uint8, thermal in [0,1]) -> (fused RGB uint8, class ids uint8)."""

    def __init__(self, path: str | Path, providers=("cpu",), intra_op_threads: int = 0,
                 tensorrt_fp16: bool = True, tensorrt_cache_dir: str = ""):
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError(f"onnxruntime is not installed: {exc}") from None
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        req = [("tensorrt", tensorrt_options(tensorrt_fp16, tensorrt_cache_dir)) if str(p).lower() == "tensorrt" else p
               for p in providers]
        prov, self.notes = resolve_providers(req, ort.get_available_providers())
        so = ort.SessionOptions()
        if intra_op_threads > 0:
            so.intra_op_num_threads = int(intra_op_threads)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), sess_options=so, providers=prov)
        except Exception as exc:  # ORT raises its own exception types for corrupt files
            raise ModelError(f"cannot load model {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelError(f"{path} has no {METADATA_KEY!r} metadata: export it with `ssvif_export`")
        self.metadata = ModelMetadata.from_json(meta[METADATA_KEY])
        names_in = [i.name for i in self.session.get_inputs()]
        names_out = [o.name for o in self.session.get_outputs()]
        if tuple(names_in) != INPUT_NAMES or tuple(names_out) != OUTPUT_NAMES:
            raise ModelError(f"model has inputs {names_in} and outputs {names_out}; expected {INPUT_NAMES} -> {OUTPUT_NAMES}")
        self.providers = self.session.get_providers()
        self.path = path

    @property
    def class_names(self) -> list[str]:
        return self.metadata.class_names

    def _fit(self, h: int, w: int) -> tuple[int, int]:
        m = self.metadata
        if m.input_height and m.input_width:
            return int(m.input_height), int(m.input_width)
        d = max(1, m.size_divisor)
        return -(-h // d) * d, -(-w // d) * d

    def __call__(self, visible: np.ndarray, thermal01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        if visible.ndim != 3 or visible.shape[2] != 3 or visible.dtype != np.uint8:
            raise ValueError(f"visible must be HxWx3 uint8, got {visible.shape} {visible.dtype}")
        h, w = visible.shape[:2]
        if thermal01.shape[:2] != (h, w):
            raise ValueError(f"thermal {thermal01.shape[:2]} and visible {(h, w)} sizes differ after registration")
        th, tw = self._fit(h, w)
        fixed = bool(self.metadata.input_height)
        vis = visible.astype(np.float32) * (1.0 / 255.0)
        thr = thermal01.astype(np.float32, copy=False)
        if fixed and (th, tw) != (h, w):
            vis = cv2.resize(vis, (tw, th), interpolation=cv2.INTER_AREA)
            thr = cv2.resize(thr, (tw, th), interpolation=cv2.INTER_AREA)
        elif (th, tw) != (h, w):
            vis = np.pad(vis, ((0, th - h), (0, tw - w), (0, 0)), mode="reflect")
            thr = np.pad(thr, ((0, th - h), (0, tw - w)), mode="reflect")
        feeds = {"visible": np.ascontiguousarray(vis.transpose(2, 0, 1)[None]),
                 "thermal": np.ascontiguousarray(thr[None, None])}
        fused, ids = self.session.run(list(OUTPUT_NAMES), feeds)
        fused = np.clip(fused[0].transpose(1, 2, 0), 0.0, 1.0)
        ids = ids[0].astype(np.uint8, copy=False)
        if fixed and (th, tw) != (h, w):
            fused = cv2.resize(fused, (w, h), interpolation=cv2.INTER_LINEAR)
            ids = cv2.resize(ids, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            fused, ids = fused[:h, :w], ids[:h, :w]
        return (fused * 255.0 + 0.5).astype(np.uint8), np.ascontiguousarray(ids)
