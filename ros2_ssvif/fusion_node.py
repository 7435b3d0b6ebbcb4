"""fusion_node: the thin rclpy shell around :mod:`ros2_ssvif.pipeline`.

Subscribes to ``rgb/image_raw`` and ``thermal/image_raw`` (relative names:
remap or push into a namespace), pairs them by header stamp, registers,
fuses and segments in a worker thread, and publishes ``fused/image``
(rgb8) and ``segmentation/mask`` (mono8 class ids), both stamped with the
visible frame's header. Health and counters go to ``/diagnostics``.

A missing or broken model or registration file does not kill the node: it
stays up, reports ERROR on /diagnostics, counts incoming pairs as dropped
(``not_ready``) and loads the file again when the parameter is set.
"""
from __future__ import annotations

import sys
import threading
from collections import deque

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data, qos_profile_system_default
from rcl_interfaces.msg import SetParametersResult
from sensor_msgs.msg import Image

from ros2_ssvif.config import FusionConfig
from ros2_ssvif.image_codec import stamp_seconds
from ros2_ssvif.model_runner import ModelError
from ros2_ssvif.pairing import ApproximatePairer
from ros2_ssvif.pipeline import FrameError, FramePipeline
from ros2_ssvif.registration import RegistrationError
from ros2_ssvif.stats import PipelineStats

RELOAD_KEYS = {"model_path", "registration_file", "providers", "intra_op_threads", "tensorrt_fp16",
               "tensorrt_cache_dir", "thermal_normalization", "thermal_low_percentile",
               "thermal_high_percentile", "thermal_fixed_min", "thermal_fixed_max"}


def camera_qos(name: str, depth: int) -> QoSProfile:
    if name == "sensor_data":
        q = QoSProfile(depth=depth, reliability=qos_profile_sensor_data.reliability,
                       history=qos_profile_sensor_data.history, durability=qos_profile_sensor_data.durability)
    elif name == "reliable":
        q = QoSProfile(depth=depth)
    else:
        q = QoSProfile(depth=depth, reliability=qos_profile_system_default.reliability,
                       history=qos_profile_system_default.history)
    return q


class FusionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("fusion_node", **kwargs)
        defaults = FusionConfig().to_dict()
        for key, value in defaults.items():
            self.declare_parameter(key, value)
        self.stats = PipelineStats()
        self.pipeline: FramePipeline | None = None
        self.error = ""
        self.cfg = self._read_config()
        self._load_pipeline()
        self.pairer = ApproximatePairer(self.cfg.queue_size, self.cfg.slop, self._on_pair, self._on_pair_drop)
        self._pending: deque = deque()
        self._cv = threading.Condition()
        self._stop = False
        self.out_fused = self.create_publisher(Image, "fused/image", 5)
        self.out_mask = self.create_publisher(Image, "segmentation/mask", 5)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        qos = camera_qos(self.cfg.camera_qos, self.cfg.qos_depth)
        self.create_subscription(Image, "rgb/image_raw", lambda m: self._on_image("visible", m), qos)
        self.create_subscription(Image, "thermal/image_raw", lambda m: self._on_image("thermal", m), qos)
        # steady clock: health is reported even while a replayed /clock is paused or not yet started
        self.create_timer(self.cfg.diagnostics_period, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name="ssvif_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"listening on {self.resolve_topic_name('rgb/image_raw')} + {self.resolve_topic_name('thermal/image_raw')} "
            f"(qos {self.cfg.camera_qos}, slop {self.cfg.slop}s, queue {self.cfg.queue_size}); "
            f"model: {'ready' if self.pipeline else 'NOT READY - ' + self.error}")

    # -- configuration ------------------------------------------------
    def _read_config(self, changed: list[Parameter] | None = None) -> FusionConfig:
        values = {k: self.get_parameter(k).value for k in FusionConfig().to_dict()}
        for p in changed or []:
            if p.name in values:
                values[p.name] = p.value
        return FusionConfig.from_dict(values)

    def _load_pipeline(self) -> None:
        try:
            model = self.cfg.model()
            registrar = self.cfg.registrar()
            self.pipeline = FramePipeline(model, registrar, self.cfg.normalizer(), self.stats)
            self.error = ""
            for note in model.notes:
                self.get_logger().warning(note)
            self.get_logger().info(f"model {model.path.name} on {model.providers[0]}, {len(model.class_names)} classes")
        except (ModelError, RegistrationError, ValueError, OSError) as exc:
            self.pipeline = None
            self.error = str(exc)
            self.get_logger().error(f"pipeline not ready: {exc}")

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        try:
            cfg = self._read_config(params)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.cfg = cfg
        self.pairer.slop, self.pairer.queue_size = cfg.slop, cfg.queue_size  # take effect at once
        if any(p.name in RELOAD_KEYS for p in params):
            self._load_pipeline()
        return SetParametersResult(successful=True)

    # -- data path ------------------------------------------------------
    def _on_image(self, stream: str, msg: Image) -> None:
        self.stats.counts[f"{stream}_in"] += 1
        self.pairer.add(stream, stamp_seconds(msg.header), msg)

    def _on_pair_drop(self, stream: str, msg, reason: str) -> None:
        self.stats.drop(f"{stream}_{reason}")

    def _on_pair(self, vis: Image, thr: Image) -> None:
        self.stats.counts["pairs"] += 1
        with self._cv:
            if self.pipeline is None:
                self.stats.drop("not_ready")
                return
            self._pending.append((vis, thr))
            while len(self._pending) > self.cfg.max_pending_pairs:
                self._pending.popleft()
                self.stats.drop("busy")
            self._cv.notify()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    self._cv.wait(0.5)
                if self._stop:
                    return
                vis, thr = self._pending.popleft()
                pipeline = self.pipeline
            if pipeline is None:
                self.stats.drop("not_ready")
                continue
            try:
                result = pipeline.process(vis, thr)
                fused, mask = pipeline.encode(result, vis.header, Image(), Image())
                with self.stats.stage("publish"):
                    self.out_fused.publish(fused)
                    self.out_mask.publish(mask)
                self.stats.counts["published"] += 1
                lat = self.stats.latency
                self.stats.record("total", sum(lat[s][-1] for s in ("decode", "register", "infer", "encode", "publish")))
            except FrameError as exc:
                self.stats.drop(exc.reason)
                self.get_logger().warning(f"frame dropped ({exc.reason}): {exc}", throttle_duration_sec=5.0)
            except Exception as exc:  # never let one frame kill the worker
                self.stats.drop("internal_error")
                self.get_logger().error(f"unexpected error on a frame: {exc!r}", throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        st = DiagnosticStatus()
        st.name = f"{self.get_name()}: fusion"
        st.hardware_id = self.get_fully_qualified_name()
        s = self.stats.summary()
        drops = sum(s["drops"].values())
        if self.pipeline is None:
            st.level, st.message = DiagnosticStatus.ERROR, f"not ready: {self.error}"
        elif s["counts"].get("published", 0) == 0 and s["counts"].get("pairs", 0) > 0:
            st.level, st.message = DiagnosticStatus.WARN, "pairs received but nothing published yet"
        else:
            st.level, st.message = DiagnosticStatus.OK, "running"
        kv = {f"count.{k}": v for k, v in s["counts"].items()}
        kv.update({f"drop.{k}": v for k, v in s["drops"].items()})
        kv["drops_total"] = drops
        for stage, d in s["latency_ms"].items():
            kv[f"latency_ms.{stage}.mean"] = round(d["mean"], 2)
            kv[f"latency_ms.{stage}.p95"] = round(d["p95"], 2)
        kv["pending_pairs"] = len(self._pending)
        kv.update({f"pairer_waiting.{k}": v for k, v in self.pairer.pending().items()})
        if self.pipeline is not None:
            kv["provider"] = self.pipeline.model.providers[0]
        st.values = [KeyValue(key=str(k), value=str(v)) for k, v in kv.items()]
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [st]
        self.diag_pub.publish(arr)

    def destroy_node(self):
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._worker.join(timeout=5.0)
        return super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv if argv is not None else sys.argv)
    node = None
    try:
        node = FusionNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, TypeError) as exc:  # bad parameter values at start-up
        print(f"fusion_node: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.get_logger().info(f"summary: {node.stats.summary()}")
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
