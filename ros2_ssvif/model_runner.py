# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Run an exported fusion+segmentation graph with ONNX Runtime.

The training package exports ONE graph, (visible, thermal) -> (fused,
class_ids), with its metadata (class names, palette, input size) stored in
the ONNX file itself so a model can never be paired with the wrong class
list. This module owns that contract; ``training/export/onnx.py`` imports it.

The contract (``CONTRACT``): visible is the registered RGB image as it
arrives, uint8 (1,H,W,3); the graph scales it by 1/255 and moves channels
first itself, so on a GPU that work runs on the GPU. Thermal is float32
(1,1,H,W) in [0,1]: its normalisation follows the scene over time
(``thermal.py``) and stays on the CPU. Outputs: the fused image as uint8
RGB (1,H,W,3), rounded and laid out by the graph (so the GPU does that too
and the CPU only slices), and class ids uint8 (1,H,W). Models exported
before this contract (visible float32 (1,3,H,W) in [0,1] in, fused float32
(1,3,H,W) in [0,1] out) still run: the runtime then converts on the CPU and
says so in ``notes``.

Execution providers are tried in the order given: ``tensorrt`` (engine and
timing caches keyed in ``tensorrt.py``), ``cuda``, ``cpu``. Providers this
onnxruntime build lacks are skipped with a note; a provider that fails to
start falls back to the next one, also with a note, so one config works on
the vehicle and on a laptop. The TensorRT and CUDA paths cannot run on the
CPU-only machines this project is tested on and are unverified there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import json
from pathlib import Path

import numpy as np
from ros2_ssvif.errors import SsvifError
from ros2_ssvif.params import settings
from ros2_ssvif.safe_files import check_regular_file, FileCheckError, MAX_MODEL_BYTES
from ros2_ssvif.tensorrt import EnginePlan, make_cache_dirs, model_digest, plan_engine


METADATA_KEY = 'ros2_ssvif'
METADATA_FORMAT = 'ros2_ssvif/fusion_segmenter'
INPUT_NAMES = ('visible', 'thermal')
OUTPUT_NAMES = ('fused', 'class_ids')
CONTRACT = ('visible uint8 (1,H,W,3) RGB, thermal float32 (1,1,H,W) in [0,1] -> '
            'fused uint8 (1,H,W,3) RGB, class_ids uint8 (1,H,W)')
LEGACY_CONTRACT = 'visible float32 (1,3,H,W) in [0,1] (models exported before the uint8 input)'

PROVIDER_NAMES = {
    'tensorrt': 'TensorrtExecutionProvider',
    'cuda': 'CUDAExecutionProvider',
    'cpu': 'CPUExecutionProvider',
}


class ModelError(SsvifError, RuntimeError):
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
    def from_json(cls, text: str) -> ModelMetadata:
        try:
            d = json.loads(text)
            fmt = d.get('format')
            if fmt != METADATA_FORMAT:
                raise ModelError(f'model metadata format is {fmt!r}, expected {METADATA_FORMAT!r}')
            names = [str(n) for n in d['class_names']]
            palette = [tuple(int(c) for c in rgb) for rgb in d['palette']]
            if len(palette) < len(names):
                raise ModelError(f'palette has {len(palette)} colours for {len(names)} classes')
            own = {'class_names', 'palette', 'input_height', 'input_width', 'size_divisor'}
            extra = {k: v for k, v in d.items() if k not in own}
            return cls(names, palette, d.get('input_height'), d.get('input_width'),
                       int(d.get('size_divisor', 32)), extra)
        except ModelError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f'model metadata is malformed: {exc!r}') from None

    def to_json(self) -> str:
        d = {'format': METADATA_FORMAT, 'version': 1, **self.extra,
             'class_names': list(self.class_names),
             'palette': [list(map(int, c)) for c in self.palette],
             'input_height': self.input_height, 'input_width': self.input_width,
             'size_divisor': int(self.size_divisor)}
        d['format'] = METADATA_FORMAT
        return json.dumps(d)


def resolve_providers(requested, available: list[str]) -> tuple[list, list[str]]:
    """
    Map short names to ORT providers, keep those this build has.

    Returns (providers for InferenceSession, notes about skipped ones).
    """
    out, notes = [], []
    for item in requested:
        name, opts = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
        full = PROVIDER_NAMES.get(str(name).lower(), str(name))
        if full not in available:
            notes.append(f'{full} is not available in this onnxruntime build; skipped')
            continue
        out.append((full, opts) if opts else full)
    if not out:
        out.append('CPUExecutionProvider')
        notes.append('no requested provider available; using CPUExecutionProvider')
    return out, notes


def _provider_name(item) -> str:
    return item if isinstance(item, str) else item[0]


def open_session(ort, path: Path, providers: list, options) -> tuple[object, list[str]]:
    """
    Open an InferenceSession on the first providers that start: TensorRT, CUDA, CPU.

    A provider that fails to start (missing CUDA or TensorRT libraries, a
    bad option) is dropped with a note and the next one tried; a provider
    that ONNX Runtime silently left out is noted too.
    """
    notes: list[str] = []
    chain = list(providers)
    if 'CPUExecutionProvider' not in [_provider_name(p) for p in chain]:
        chain.append('CPUExecutionProvider')
    while True:
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=chain)
            break
        except Exception as exc:  # ORT raises its own exception types
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            if len(chain) == 1:
                raise ModelError(f'cannot load model {path}: {first}') from None
            notes.append(f'{_provider_name(chain[0])} failed to start ({first}); '
                         f'falling back to {_provider_name(chain[1])}')
            chain = chain[1:]
    used = session.get_providers()
    for item in chain:
        name = _provider_name(item)
        if name not in used:
            notes.append(f'{name} was requested but ONNX Runtime did not use it; '
                         f'running on {used[0]}')
    return session, notes


def model_contract(session) -> str:
    """Tell the input contract: nhwc_uint8 (current export) or nchw_float (legacy)."""
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    if tuple(names_in) != INPUT_NAMES or tuple(names_out) != OUTPUT_NAMES:
        raise ModelError(f'model has inputs {names_in} and outputs {names_out}; '
                         f'expected {INPUT_NAMES} -> {OUTPUT_NAMES}')
    return _rgb_layout(session.get_inputs()[0], "input 'visible'")


def fused_layout(session) -> str:
    """
    Return the layout of the fused output.

    nhwc_uint8 (current export) or nchw_float (float (1,3,H,W) in [0,1]).
    """
    return _rgb_layout(session.get_outputs()[0], "output 'fused'")


def _rgb_layout(arg, what: str) -> str:
    """Name the layout of an RGB graph argument: uint8 (1,H,W,3) or float (1,3,H,W)."""
    shape = list(arg.shape)
    if arg.type == 'tensor(uint8)' and len(shape) == 4 and shape[3] == 3:
        return 'nhwc_uint8'
    if arg.type == 'tensor(float)' and len(shape) == 4 and shape[1] == 3:
        return 'nchw_float'
    raise ModelError(f'model {what} is {arg.type} {shape}; expected {CONTRACT}')


def _read_metadata(session, path: Path) -> ModelMetadata:
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ModelError(f'{path} has no {METADATA_KEY!r} metadata: export it with `ssvif_export`')
    return ModelMetadata.from_json(meta[METADATA_KEY])


def pad_bottom_right(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """
    Pad an (H, W[, C]) image to (height, width) by mirroring its last rows and columns.

    The one padding of the deployed pipeline; ``ssvif_fuse --checkpoint``
    uses it too, so a checkpoint and its export see the same border.
    """
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    pad = ((0, height - h), (0, width - w)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pad, mode='reflect')


def network_input_hw(metadata: ModelMetadata, h: int, w: int) -> tuple[int, int]:
    """Give the size the network sees for an (h, w) image: the baked size, or padded up."""
    if metadata.input_height and metadata.input_width:
        return int(metadata.input_height), int(metadata.input_width)
    d = max(1, metadata.size_divisor)
    return -(-h // d) * d, -(-w // d) * d


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelError(f'onnxruntime is not installed: {exc}') from None
    return ort


def tensorrt_plan(path: str | Path, image_hw: tuple[int, int] | None = None, fp16: bool = True,
                  device_id: int = 0, cache_dir: str = '') -> EnginePlan | None:
    """
    Plan the TensorRT engine a model would use, without building it.

    ``image_hw``: the registered image size (the registration's output);
    None if not known. Returns None where this onnxruntime has no TensorRT
    provider. ``plan.needs_build`` says whether loading will build an engine
    (minutes on a Jetson) or reuse a cached one.
    """
    ort = _import_ort()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f'model file not found: {path}')
    if 'TensorrtExecutionProvider' not in ort.get_available_providers():
        return None
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session, _ = open_session(ort, path, ['CPUExecutionProvider'], so)
    return engine_plan_for(path, _read_metadata(session, path), model_contract(session),
                           image_hw, fp16, device_id, cache_dir, ort.__version__)


def engine_plan_for(path: Path, metadata: ModelMetadata, contract: str,
                    image_hw: tuple[int, int] | None, fp16: bool, device_id: int,
                    cache_dir: str | Path, ort_version: str, **machine) -> EnginePlan:
    """Plan the engine of a model whose metadata is known (``machine``: see plan_engine)."""
    fixed = bool(metadata.input_height and metadata.input_width)
    net_hw = None
    if fixed:
        net_hw = (int(metadata.input_height), int(metadata.input_width))
    elif image_hw:
        net_hw = network_input_hw(metadata, *image_hw)
    return plan_engine(model_digest(path), net_hw, fp16=fp16, device_id=device_id,
                       cache_root=cache_dir, ort_version=ort_version,
                       visible_nhwc=contract == 'nhwc_uint8', static_shapes=fixed, **machine)


class FusionSegmenter:
    """
    (registered visible RGB uint8, thermal in [0,1]) -> (fused RGB uint8, class ids uint8).

    ``image_hw`` is the registered image size when known (from the
    registration file): TensorRT then builds (or loads) its engine for that
    size at load time instead of at the first frame.
    """

    @classmethod
    def from_config(cls, cfg, image_hw: tuple[int, int] | None = None) -> 'FusionSegmenter':
        """Load ``cfg``'s model with its ``model`` fields by name (``model_path`` resolved)."""
        kw = settings(cfg, 'model')
        del kw['model_path']
        return cls(cfg.resolved_model_path(), **kw, image_hw=image_hw)

    def __init__(self, path: str | Path, providers=('cpu',), intra_op_threads: int = 0,
                 tensorrt_fp16: bool = True, tensorrt_cache_dir: str = '', device_id: int = 0,
                 image_hw: tuple[int, int] | None = None):
        ort = _import_ort()
        try:
            path = check_regular_file(path, 'model file', MAX_MODEL_BYTES)
        except FileCheckError as exc:
            raise ModelError(str(exc)) from None
        wanted = [str(p).lower() for p in providers]
        self.engine_plan: EnginePlan | None = None
        if 'tensorrt' in wanted and 'TensorrtExecutionProvider' in ort.get_available_providers():
            self.engine_plan = tensorrt_plan(path, image_hw, tensorrt_fp16, device_id,
                                             tensorrt_cache_dir)
            make_cache_dirs(self.engine_plan)
        req = []
        for p in wanted:
            if p == 'tensorrt' and self.engine_plan is not None:
                req.append(('tensorrt', self.engine_plan.options))
            elif p == 'cuda':
                req.append(('cuda', {'device_id': str(int(device_id))}))
            else:
                req.append(p)
        prov, self.notes = resolve_providers(req, ort.get_available_providers())
        so = ort.SessionOptions()
        if intra_op_threads > 0:
            so.intra_op_num_threads = int(intra_op_threads)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session, fallback_notes = open_session(ort, path, prov, so)
        self.notes += fallback_notes
        self.metadata = _read_metadata(self.session, path)
        self.contract = model_contract(self.session)
        self.fused_layout = fused_layout(self.session)
        if self.contract == 'nchw_float':
            self.notes.append(f'{path.name} uses the old input contract ({LEGACY_CONTRACT}): '
                              'scaling runs on the CPU; re-export with ssvif_export to move it '
                              'into the graph')
        elif self.fused_layout == 'nchw_float':
            self.notes.append(f'{path.name} returns a float fused image: its rounding runs on the '
                              'CPU; re-export with ssvif_export to move it into the graph')
        self.providers = self.session.get_providers()
        self.path = path
        if self.engine_plan is not None and self.providers[0] != 'TensorrtExecutionProvider':
            self.engine_plan = None
        if self.engine_plan is not None and image_hw:
            self.warm_up(image_hw)  # build or load the engine now, not at the first frame

    @property
    def class_names(self) -> list[str]:
        return self.metadata.class_names

    def warm_up(self, image_hw: tuple[int, int]) -> None:
        """One inference on a black frame of the given size (builds a TensorRT engine)."""
        h, w = (int(v) for v in image_hw)
        self(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32))

    def _fit(self, h: int, w: int) -> tuple[int, int]:
        return network_input_hw(self.metadata, h, w)

    def __call__(self, visible: np.ndarray,
                 thermal01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        if visible.ndim != 3 or visible.shape[2] != 3 or visible.dtype != np.uint8:
            raise ValueError(f'visible must be HxWx3 uint8, got {visible.shape} {visible.dtype}')
        h, w = visible.shape[:2]
        if thermal01.shape[:2] != (h, w):
            raise ValueError(f'thermal {thermal01.shape[:2]} and visible {(h, w)} sizes differ '
                             'after registration')
        th, tw = self._fit(h, w)
        fixed = bool(self.metadata.input_height)
        vis = visible
        thr = thermal01.astype(np.float32, copy=False)
        if fixed and (th, tw) != (h, w):
            vis = cv2.resize(vis, (tw, th), interpolation=cv2.INTER_AREA)
            thr = cv2.resize(thr, (tw, th), interpolation=cv2.INTER_AREA)
        elif (th, tw) != (h, w):
            vis, thr = pad_bottom_right(vis, th, tw), pad_bottom_right(thr, th, tw)
        if self.contract == 'nhwc_uint8':
            vis_feed = np.ascontiguousarray(vis)[None]
        else:  # legacy graphs: scale and transpose here
            vis_feed = np.ascontiguousarray(
                (vis.astype(np.float32) * np.float32(1.0 / 255.0)).transpose(2, 0, 1)[None])
        feeds = {'visible': vis_feed, 'thermal': np.ascontiguousarray(thr[None, None])}
        fused, ids = self.session.run(list(OUTPUT_NAMES), feeds)
        if self.fused_layout == 'nhwc_uint8':
            fused = fused[0]
        else:  # legacy float output: round on the CPU
            fused = (np.clip(fused[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        ids = ids[0].astype(np.uint8, copy=False)
        if fixed and (th, tw) != (h, w):
            fused = cv2.resize(fused, (w, h), interpolation=cv2.INTER_LINEAR)
            ids = cv2.resize(ids, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            fused, ids = fused[:h, :w], ids[:h, :w]
        return np.ascontiguousarray(fused), np.ascontiguousarray(ids)
