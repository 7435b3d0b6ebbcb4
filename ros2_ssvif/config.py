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
Runtime parameters: one dataclass, one validation, read from ROS params or YAML.

This dataclass is the one home of every parameter (README, "Add a
parameter"). Each field is a ROS parameter of the node, declared with
:func:`ros2_ssvif.params.param`: description, range, choices and its
*part*, the consumer it configures, which also says when a change applies.
From the fields come the node's ``ParameterDescriptor``s (ranges,
``read_only``), its set-parameters validation (:meth:`FusionConfig.from_dict`
and :meth:`FusionConfig.check_files`, also used at start-up and by
``process_bag``), the live apply (every live consumer's ``configure``),
the construction of the pipeline's parts (``from_config`` by field name,
:func:`ros2_ssvif.pipeline.build_pipeline`), ``config/fusion.yaml`` and
the launch file's arguments (:mod:`ros2_ssvif.param_files`).

``apply`` says what a change needs: ``start`` (read-only: QoS, transports,
timers exist from start-up), ``live`` (takes effect at once), ``model``,
``registration`` or ``thermal`` (rebuilt in the worker thread and swapped in
when it loads). Validation is cheap by design: it never opens a model, and
this module builds nothing (it sits below the parts it describes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
import math
from pathlib import Path

from ros2_ssvif.compressed import TRANSPORTS
from ros2_ssvif.errors import ConfigError
from ros2_ssvif.package_files import resolve_model_path
from ros2_ssvif.params import APPLY, param
from ros2_ssvif.registration import load_registration, RegistrationError
from ros2_ssvif.safe_files import check_regular_file, FileCheckError, MAX_MODEL_BYTES
from ros2_ssvif.safe_files import read_yaml_file
from ros2_ssvif.thermal import MODES as THERMAL_MODES
from ros2_ssvif.thermal import ThermalNormalizer


QOS_CHOICES = ('sensor_data', 'reliable', 'system_default')
PROVIDER_CHOICES = ('tensorrt', 'cuda', 'cpu')
ROS_OWN_KEYS = ('use_sim_time', 'qos_overrides.', 'start_type_description_service')


@dataclass
class FusionConfig:
    model_path: str = param(
        '',
        'Exported ONNX bundle (visible, thermal) -> (fused, class_ids), see README, Export. '
        "Empty: the package's default model (share/ros2_ssvif/models/ssvif_default.onnx); a "
        'relative path is looked up in the package share directory, then in the current '
        'directory.',
        part='model')
    registration_file: str = param(
        '', 'registration.yaml written by `calibrate`; empty: the inputs are already registered.',
        part='registration')
    rgb_transport: str = param(
        'raw', 'How the visible camera arrives: raw (rgb/image_raw, sensor_msgs/Image) or '
        'compressed / compressedDepth (rgb/image_raw/<transport>, sensor_msgs/CompressedImage), '
        'as image_transport names them.', choices=TRANSPORTS, part='node')
    thermal_transport: str = param(
        'raw', 'How the thermal camera arrives: raw, compressed (8- or 16-bit PNG, 16 bits kept) '
        'or compressedDepth (16-bit PNG with its header), on thermal/image_raw[/<transport>].',
        choices=TRANSPORTS, part='node')
    queue_size: int = param(
        10, 'Frames waiting for a partner per stream (semantics in ros2_ssvif/pairing.py).',
        range=(1, 1000), part='pairing')
    slop: float = param(
        0.05, 'Largest stamp difference of a visible/thermal pair, seconds.', range=(0.0, 10.0),
        part='pairing')
    time_jump_threshold: float = param(
        0.5,
        'Stamps going back by more than this many seconds (a bag loop, a driver restart, a '
        'camera clock reset) reset the pairing instead of dropping every later frame as out of '
        'order; counted as time_resets.',
        range=(0.01, 86400.0), part='pairing')
    camera_qos: str = param(
        'sensor_data', 'QoS of the camera subscriptions: sensor_data (best effort, keep last), '
        'reliable or system_default.', choices=QOS_CHOICES, part='node')
    qos_depth: int = param(
        5, 'History depth of the camera subscriptions.', range=(1, 1000), part='node')
    max_pending_pairs: int = param(
        1, 'Pairs waiting for inference; when the model is slower than the cameras the oldest is '
        'dropped and counted (busy).', range=(1, 1000), part='worker')
    max_input_pixels: int = param(
        4_194_304, 'Largest input frame (width x height) accepted; larger frames are dropped and '
        'counted (too_large) instead of taking gigabytes and seconds. 4194304 = 2048x2048: '
        '1080p passes, 4K does not.', range=(1, 1_000_000_000), part='pipeline')
    thermal_normalization: str = param(
        'auto', 'Thermal counts -> [0, 1] (ros2_ssvif/thermal.py): auto (8-bit: /255; raw '
        '16-bit: running), scale (/255 or /65535), fixed (a counts window), running (a '
        'percentile window that follows the scene slowly, with hysteresis: no flicker when a '
        'hot object enters) or percentile (per frame).',
        choices=THERMAL_MODES, part='thermal', key='mode')
    thermal_low_percentile: float = param(
        1.0, 'Low percentile of the running/percentile window.', range=(0.0, 100.0),
        part='thermal')
    thermal_high_percentile: float = param(
        99.0, 'High percentile of the running/percentile window.', range=(0.0, 100.0),
        part='thermal')
    thermal_fixed_min: float = param(
        0.0, 'Counts mapped to 0 in fixed mode.', range=(-1e9, 1e9), part='thermal')
    thermal_fixed_max: float = param(
        65535.0, 'Counts mapped to 1 in fixed mode (> thermal_fixed_min).', range=(-1e9, 1e9),
        part='thermal')
    thermal_window_rate: float = param(
        0.03,
        'Running window: most an edge moves per frame, as a fraction of the window width, '
        '[0.001, 1].',
        range=(0.001, 1.0),  # a closed ROS range: 0 (a frozen window) is not offered
        part='thermal', key='rate')
    thermal_window_hysteresis: float = param(
        0.1,
        'Running window: dead band (fraction of its width) inside which it does not move, '
        '[0, 0.99].',
        range=(0.0, 0.99), part='thermal', key='hysteresis')
    providers: list = param(
        ['cpu'], 'ONNX Runtime execution providers tried in order: tensorrt, cuda, cpu.',
        choices=PROVIDER_CHOICES, part='model')
    intra_op_threads: int = param(
        0, 'ONNX Runtime threads per operator; 0: its default.', range=(0, 1024), part='model')
    tensorrt_fp16: bool = param(True, 'TensorRT: allow FP16 kernels.', part='model')
    tensorrt_cache_dir: str = param(
        '', 'TensorRT engine and timing cache root; empty: $ROS_HOME/ros2_ssvif/trt '
        '(~/.ros/ros2_ssvif/trt). See README, Export.', part='model')
    device_id: int = param(
        0, 'CUDA device of the tensorrt and cuda providers.', range=(0, 64), part='model')
    publish_overlay: bool = param(
        False, 'Also publish segmentation/overlay (colour mask over the fused image).',
        part='outputs')
    overlay_alpha: float = param(
        0.5, 'Weight of the colour mask in the overlay.', range=(0.0, 1.0), part='pipeline')
    diagnostics_period: float = param(
        1.0, 'Period of the /diagnostics report, seconds.', range=(0.05, 60.0), part='node')
    stream_timeout: float = param(
        2.0, 'A camera silent for longer than this (seconds) is reported WARN.',
        range=(0.05, 3600.0), part='health')
    max_drop_ratio: float = param(
        0.5, "WARN when more than this fraction of the slower camera's frames did not become an "
        'output within health_window.', range=(0.0, 1.0), part='health')
    health_window: float = param(
        5.0, 'Window for input rates and the drop ratio, seconds.', range=(0.5, 3600.0),
        part='health')
    registration_check_every: int = param(
        3, 'Check the registration on every Nth fused pair (alignment.py: gradient-orientation '
        'correlation at 320 px wide, a few ms); 0: never, the registration status says so.',
        range=(0, 1000), part='alignment')
    registration_window: int = param(
        5, 'Checks the registration verdict is the median of (the confident ones among them).',
        range=(1, 100), part='alignment')
    registration_min_confidence: float = param(
        0.2, 'A check counts when its correlation peak is this distinct (1 - second peak / '
        'peak); chosen on real pairs by benchmarks/bench_alignment.py.', range=(0.0, 1.0),
        part='alignment')
    registration_warn_px: float = param(
        2.0, 'Registration status WARN when thermal lies more than this many output pixels from '
        'the visible image.', range=(0.1, 100.0), part='alignment')
    registration_warn_hold_s: float = param(
        0.5, 'The shift must stay above (or below) registration_warn_px this long, in stamp '
        'seconds, before the status changes: one frame does not flap it.', range=(0.0, 60.0),
        part='alignment')
    registration_autocorrect: bool = param(
        False, 'Translate the thermal remap to follow the measured shift (bounded, smoothed, '
        'logged and counted) so fused edges align again; the status stays WARN: recalibrate.',
        part='alignment')
    registration_autocorrect_max_px: float = param(
        10.0, 'Largest correction registration_autocorrect applies, output pixels.',
        range=(0.0, 50.0), part='alignment')

    def __post_init__(self) -> None:
        for spec in parameter_specs(type(self)):
            setattr(self, spec.name, _coerce(spec, getattr(self, spec.name)))
        try:
            ThermalNormalizer.from_config(self)
        except ValueError as exc:  # ThermalNormalizer owns the cross-field rules of its settings
            raise ConfigError(f'thermal normalisation: {exc}') from None

    @classmethod
    def from_dict(cls, d: dict) -> 'FusionConfig':
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in set(d) - known if not str(k).startswith(ROS_OWN_KEYS))
        if unknown:
            raise ConfigError(f"unknown fusion parameters: {', '.join(unknown)}")
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. a value dataclasses cannot take
            raise ConfigError(str(exc)) from None

    def to_dict(self) -> dict:
        return asdict(self)

    # -- what the values mean ---------------------------------------------
    def resolved_model_path(self) -> Path:
        return resolve_model_path(self.model_path)

    @property
    def uses_tensorrt(self) -> bool:
        return any(
            str(p).lower() in ('tensorrt', 'tensorrtexecutionprovider') for p in self.providers
        )

    def check_files(self) -> None:
        """
        Check that the files exist and the registration file is valid.

        Cheap: no model is loaded.
        """
        try:  # a FIFO or a device as the model would block or never end in ONNX Runtime
            check_regular_file(self.resolved_model_path(),
                               'model file' if self.model_path else 'default model',
                               MAX_MODEL_BYTES)
        except FileCheckError as exc:
            raise ConfigError(f'model_path: {exc}') from None
        if self.registration_file:
            try:
                reg = load_registration(self.registration_file)
            except RegistrationError as exc:
                raise ConfigError(f'registration_file: {exc}') from None
            ow, oh = reg.output_size
            if ow * oh > self.max_input_pixels:  # the remap tables and every frame are this size
                raise ConfigError(
                    f'registration_file: output {ow}x{oh} = {ow * oh} pixels is more than '
                    f'max_input_pixels={self.max_input_pixels}')


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as the node declares it (built from the field's metadata)."""

    name: str
    default: object
    kind: str  # bool | int | float | str | list
    description: str
    range: tuple | None  # noqa: A003 (the ROS parameter descriptor's word)
    choices: tuple | None
    apply: str
    part: str = ''

    @property
    def read_only(self) -> bool:
        return self.apply == 'start'


_KINDS = {'bool': 'bool', 'int': 'int', 'float': 'float', 'str': 'str', 'list': 'list'}


def parameter_specs(config_class: type | None = None) -> list[ParamSpec]:
    """Return every parameter of ``config_class`` (default :class:`FusionConfig`), in order."""
    out = []
    for f in fields(config_class or FusionConfig):
        meta = f.metadata or {}
        factory = f.default_factory
        default = factory() if callable(factory) else f.default  # type: ignore[misc]
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, '__name__', '')
        kind = _KINDS.get(annotation.split('[')[0], 'str')
        apply = meta.get('apply')
        if apply not in APPLY:
            raise RuntimeError(f'config field {f.name}: declare it with ros2_ssvif.params.param '
                               f'(its part says when it applies: one of {APPLY})')
        out.append(
            ParamSpec(
                f.name,
                default,
                kind,
                meta.get('description', f.name),
                meta.get('range'),
                meta.get('choices'),
                apply,
                meta['part'],
            )
        )
    return out


def _coerce(spec: ParamSpec, value):
    """Check one value's type, range and choices; return it in its canonical type."""
    name, kind = spec.name, spec.kind
    if kind == 'float':
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ConfigError(f'{name} must be a number (finite), got {value!r}')
        value = float(value)
    elif kind == 'int':
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'{name} must be an integer, got {value!r}')
    elif kind == 'bool':
        if not isinstance(value, bool):
            raise ConfigError(f'{name} must be true or false, got {value!r}')
    elif kind == 'str':
        if not isinstance(value, str):
            raise ConfigError(f'{name} must be a string, got {value!r}')
    elif kind == 'list':
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'{name} must be a list of strings, got {value!r}')
        value = list(value)
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        lo, hi = spec.range
        raise ConfigError(f'{name} must be between {lo} and {hi}, got {value!r}')
    if spec.choices is not None:
        items = value if kind == 'list' else [value]
        bad = [v for v in items if _canonical_choice(v, spec) not in spec.choices]
        if bad or (kind == 'list' and not items):
            raise ConfigError(
                f'{name} must be {"a non-empty list of " if kind == "list" else ""}one of '
                f'{", ".join(spec.choices)}; got {value!r}'
            )
    return value


def _canonical_choice(v: str, spec: ParamSpec) -> str:
    if spec.name == 'providers':  # short names, any case, or ORT's full names
        v = v.lower()
        return v[: -len('executionprovider')] if v.endswith('executionprovider') else v
    return v


READ_ONLY_KEYS = frozenset(s.name for s in parameter_specs() if s.read_only)
RELOAD_KEYS = frozenset(
    s.name for s in parameter_specs() if s.apply in ('model', 'registration', 'thermal')
)


def read_params_file(path: str | Path, node_name: str = 'fusion_node') -> dict:
    """
    Return the ``ros__parameters`` that apply to ``node_name`` in a params file.

    ``/**`` included.
    """
    data = read_yaml_file(path, 'params file', ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f'{path} is not a ROS 2 params file (a mapping of node names)')
    params: dict = {}
    for key, section in data.items():
        k = str(key)
        applies = k in ('/**', node_name, '/' + node_name, '/**/' + node_name) or k.endswith(
            '/' + node_name
        )
        if (
            applies
            and isinstance(section, dict)
            and isinstance(section.get('ros__parameters'), dict)
        ):
            params.update(section['ros__parameters'])
    if not params:
        raise ConfigError(f"{path} has no '/**:' or '{node_name}:' section with ros__parameters")
    return params


def load_fusion_config(path: str | Path, overrides: dict | None = None) -> FusionConfig:
    params = read_params_file(path)
    params.update(overrides or {})
    return FusionConfig.from_dict(params)
