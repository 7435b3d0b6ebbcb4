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
What the plain node and the lifecycle node share (rclpy shell).

:class:`FusionCore` is a mixin for ``rclpy.node.Node`` and
``rclpy.lifecycle.LifecycleNode`` with the steps of a lifecycle: *init*
declares the parameters (descriptors from config.py), *configure* creates
the outputs, the worker and the diagnostics timer and loads the pipeline,
*activate* subscribes to the cameras, *deactivate* unsubscribes,
*cleanup* drops it all. The plain node runs init, configure (loading in the
background) and activate in its constructor.

Parameters: the set callback only validates (config.py, cheap file checks);
the post-set callback hands the new config to every live consumer
(``configure``: each takes the fields of its part by name, so no list of
parameters is kept here) and asks the worker to rebuild what changed; a
model that then fails to load is undone (the parameter goes back, the old
model keeps running, the reason is logged and shown on /diagnostics).
``config_class`` is the dataclass the node declares its parameters from.
"""
from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, qos_profile_system_default, QoSProfile
from ros2_ssvif.alignment import AlignmentMonitor
from ros2_ssvif.compressed import transport_topic
from ros2_ssvif.config import ConfigError, FusionConfig, parameter_specs
from ros2_ssvif.fusion_worker import PARTS, PipelineWorker
from ros2_ssvif.health import HealthMonitor
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.node_outputs import RosSink
from ros2_ssvif.node_parameters import declare_fusion_parameters, read_config
from ros2_ssvif.pairing import ApproximatePairer
from ros2_ssvif.stats import PipelineStats
from sensor_msgs.msg import CompressedImage, Image


INPUTS = {
    'visible': ('rgb/image_raw', 'rgb_transport'),
    'thermal': ('thermal/image_raw', 'thermal_transport'),
}


def camera_qos(name: str, depth: int) -> QoSProfile:
    if name == 'sensor_data':
        return QoSProfile(
            depth=depth,
            reliability=qos_profile_sensor_data.reliability,
            history=qos_profile_sensor_data.history,
            durability=qos_profile_sensor_data.durability,
        )
    if name == 'reliable':
        return QoSProfile(depth=depth)
    return QoSProfile(depth=depth, reliability=qos_profile_system_default.reliability,
                      history=qos_profile_system_default.history)


def _steady() -> float:
    return time.monotonic()


class FusionCore:
    """Mixin: see the module docstring. Expects to be combined with an rclpy Node."""

    config_class = FusionConfig

    # -- init ---------------------------------------------------------------
    def _core_init(self) -> None:
        self.cfg = declare_fusion_parameters(self)  # ConfigError: bad values at start-up
        self._apply = {s.name: s.apply for s in parameter_specs(self.config_class)}
        self.stats = PipelineStats()
        self.stats.listener = lambda kind, reason: self.health.dropped(kind, reason, _steady())
        self.health = HealthMonitor.from_config(
            self.cfg, {s: INPUTS[s][0] for s in INPUTS}, _steady(), self.get_name())
        self.pairer = ApproximatePairer.from_config(
            self.cfg, self._on_pair, self._on_pair_drop, self._on_time_reset)
        self.worker: PipelineWorker | None = None
        self.sink: RosSink | None = None
        self.active = False
        self.input_topics: dict[str, str] = {}
        self._subs: list = []
        self._diag_timer = None
        self._diag_pub = None
        self._reverting = False
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

    @property
    def pipeline(self):
        return self.worker.pipeline if self.worker is not None else None

    @property
    def error(self) -> str:
        return (
            self.worker.message if self.worker is not None and self.worker.state == 'error' else ''
        )

    # -- configure / activate ---------------------------------------------------
    def _core_configure(self, wait: bool) -> str:
        """
        Set up the outputs, worker and diagnostics; load the pipeline.

        ``wait``: here, else in the worker.
        """
        self.sink = RosSink(self).configure(self.cfg)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.worker = PipelineWorker(
            self.stats,
            self.sink,
            self.get_logger(),
            on_published=lambda: self.health.published(_steady()),
            on_frame_error=self._on_frame_error,
            on_model=self._on_model,
            aligner=AlignmentMonitor(prefix=self.get_name()),
        ).configure(self.cfg)
        self.worker.aligner.configure(self.cfg)
        # steady clock: health is reported even while a replayed /clock is paused or jumps back
        self._diag_timer = self.create_timer(
            self.cfg.diagnostics_period,
            self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        if wait:
            return self.worker.load_now(self.cfg)
        self.worker.request_load(self.cfg)
        return ''

    def _core_activate(self) -> None:
        qos = camera_qos(self.cfg.camera_qos, self.cfg.qos_depth)
        for stream, (base, transport_key) in INPUTS.items():
            transport = getattr(self.cfg, transport_key)
            # image_transport's rule: remap the base topic, then append the transport
            topic = transport_topic(self.resolve_topic_name(base), transport)
            msg_type = Image if transport == 'raw' else CompressedImage
            self.input_topics[stream] = topic
            self._subs.append(self._subscribe(stream, msg_type, topic, qos))
        self.health.topics = dict(self.input_topics)
        self.health.restart(_steady())
        self.active = True

    def _subscribe(self, stream: str, msg_type, topic: str, qos):
        def on_msg(msg):
            self._on_image(stream, msg)

        lost = SubscriptionEventCallbacks(message_lost=lambda info: self._on_lost(stream, info))
        try:
            return self.create_subscription(msg_type, topic, on_msg, qos, event_callbacks=lost)
        except Exception:  # an RMW without the message-lost event: subscribe without it
            return self.create_subscription(msg_type, topic, on_msg, qos)

    def _core_deactivate(self) -> None:
        self.active = False
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs.clear()

    def _core_cleanup(self) -> None:
        self._core_deactivate()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self.sink is not None:
            self.sink.destroy()
            self.sink = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None

    # -- parameters -------------------------------------------------------------
    def set_parameters_atomically(self, parameter_list: list[Parameter]) -> SetParametersResult:
        """
        Refuse a parameter this node does not have, by name.

        rclpy's own refusal reads "Invalid access to undeclared parameter(s): []"
        (its generator is used up before the message is built).
        """
        unknown = [p.name for p in parameter_list if not self.has_parameter(p.name)]
        if unknown:
            return SetParametersResult(
                successful=False,
                reason=f"fusion_node has no parameter {', '.join(unknown)} (a typo? every "
                       'parameter is listed in config/fusion.yaml)')
        return super().set_parameters_atomically(parameter_list)

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        try:
            cfg = read_config(self, params)
            if {p.name for p in params} & {
                'model_path',
                'registration_file',
            } and not self._reverting:
                cfg.check_files()
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def live_consumers(self) -> dict:
        """Return what takes the live parameters: one object per live part (``LIVE_PARTS``)."""
        worker = self.worker
        return {'pairing': self.pairer, 'health': self.health, 'outputs': self.sink,
                'worker': worker, 'alignment': worker.aligner if worker is not None else None,
                'pipeline': worker.pipeline if worker is not None else None}

    def _apply_parameters(self, params: list[Parameter]) -> None:
        old, cfg = self.cfg, read_config(self)
        self.cfg = cfg
        for consumer in self.live_consumers().values():
            if consumer is not None:
                consumer.configure(cfg)  # each takes the fields of its part, by name
        if self.worker is None or self._reverting:
            return
        names = {p.name for p in params}
        parts = {self._apply[n] for n in names if n in self._apply} & set(PARTS)
        if parts:
            previous = {n: getattr(old, n) for n in names if self._apply.get(n) in PARTS}
            self.worker.request_load(cfg, parts, on_failure=lambda err: self._undo(previous, err))

    def _undo(self, previous: dict, error: str) -> None:
        """
        Put the parameters back after a new model did not load.

        The old pipeline kept running.
        """
        self.get_logger().error(
            f'could not apply {", ".join(f"{k}={v!r}" for k, v in previous.items())}: '
            f'{error}; restored the previous values'
        )
        self._reverting = True
        try:
            self.set_parameters([Parameter(k, value=v) for k, v in previous.items()])
        finally:
            self._reverting = False

    # -- data path ----------------------------------------------------------------
    def _on_image(self, stream: str, msg) -> None:
        stamp = stamp_seconds(msg.header)
        self.stats.count(f'{stream}_in')
        self.health.frame_in(stream, _steady(), stamp)
        if stamp == 0.0:  # an unstamped driver: pairing by time would pair anything with it
            self.stats.frame_drop(stream, 'zero_stamp')
            self.get_logger().warning(
                f'{stream} frames arrive with a zero header stamp: they cannot be paired by time '
                '(dropped, counted as zero_stamp); the camera driver must stamp them',
                throttle_duration_sec=5.0)
            return
        self.pairer.add(stream, stamp, msg)

    def _on_lost(self, stream: str, info) -> None:
        n = int(getattr(info, 'total_count_change', 1) or 1)
        if not 0 < n <= 100_000:  # Fast DDS reports one bogus event when a publisher goes away
            return
        self.stats.frame_drop(stream, 'lost_in_transport', n)
        self.get_logger().warning(
            f'{n} {stream} frame(s) lost in transport (too large for the DDS '
            'shared-memory segment, or the network): see README, QoS and frame size',
            throttle_duration_sec=5.0,
        )

    def _on_pair_drop(self, stream: str, msg, reason: str) -> None:
        self.stats.frame_drop(stream, reason)

    def _on_time_reset(self, stream: str, jump: float) -> None:
        self.stats.count('time_resets')
        self.get_logger().warning(
            f'{stream} stamps jumped back by {-jump:.3f} s (bag loop, driver restart or '
            'clock reset): pairing restarted'
        )
        if self.worker is not None:
            self.worker.reset_time()

    def _on_pair(self, vis, thr) -> None:
        self.stats.count('pairs')
        if self.worker is None:
            self.stats.drop('not_ready')
            return
        self.worker.submit(vis, thr)

    def _on_frame_error(self, exc) -> None:
        self.get_logger().warning(f'pair dropped ({exc.reason}): {exc}', throttle_duration_sec=5.0)

    def _on_model(self, model) -> None:
        if self.sink is not None:
            self.sink.publish_labels(model.class_names)

    # -- diagnostics ----------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        worker = self.worker
        if worker is None or self._diag_pub is None:
            return
        if not self.active:
            state, message = 'inactive', 'inactive: configured, not subscribed (lifecycle)'
        elif worker.state in ('idle', 'loading'):
            state, message = 'loading', worker.message or 'loading'
        else:
            state, message = worker.state, worker.message
        reports = self.health.report(
            _steady(), self.get_clock().now().nanoseconds * 1e-9, state, message
        )
        reports[-1].values.update(self._fusion_values(worker))
        reports.append(worker.aligner.report())
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        for r in reports:
            st = DiagnosticStatus(
                name=r.name, message=r.message, hardware_id=self.get_fully_qualified_name()
            )
            st.level = bytes([r.level])
            st.values = [KeyValue(key=str(k), value=str(v)) for k, v in r.values.items()]
            arr.status.append(st)
        self._diag_pub.publish(arr)

    def _fusion_values(self, worker: PipelineWorker) -> dict:
        s = self.stats.summary()
        kv = {f'count.{k}': v for k, v in s['counts'].items()}
        for stream, reasons in s['dropped_frames'].items():
            kv.update({f'dropped_frames.{stream}.{r}': n for r, n in reasons.items()})
        kv.update({f'dropped_pairs.{r}': n for r, n in s['dropped_pairs'].items()})
        for stage, d in s['latency_ms'].items():
            kv[f'latency_ms.{stage}.mean'] = round(d['mean'], 2)
            kv[f'latency_ms.{stage}.p95'] = round(d['p95'], 2)
        kv['pending_pairs'] = worker.pending()
        kv.update({f'pairer_waiting.{k}': v for k, v in self.pairer.pending().items()})
        pipeline = worker.pipeline
        if pipeline is not None:
            kv['model'] = str(pipeline.model.path)
            kv['provider'] = pipeline.model.providers[0]
        if worker.labels_file:
            kv['labels_file'] = worker.labels_file
        if worker.note:
            kv['note'] = worker.note
        return kv
