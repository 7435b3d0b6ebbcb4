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
The node's worker threads: one loads pipelines, one runs pairs through them (ROS-free).

Loading a model can take minutes (a TensorRT engine build on a Jetson), so
it never happens in a ROS callback, nor on the thread that fuses: the
set-parameters callback only validates, the **loader** thread builds the
new pipeline (model, registration maps, thermal normaliser: only the parts
that changed) while the **inference** thread keeps fusing with the old
one, and the new one is swapped in between two pairs, only if it loaded;
otherwise the old one stays and ``on_failure`` lets the node undo the
parameter change. What stops: nothing while a *re*load runs (it shares the
CPU, so pairs may be slower and counted ``busy``); before the *first*
pipeline is loaded nothing is fused (``not_ready``), and the state is
``loading`` with what is being loaded on /diagnostics.

The registration monitor (:class:`AlignmentMonitor`) belongs to the worker,
not to a pipeline: a new model keeps its history and its correction; a new
registration starts it afresh.
"""
from __future__ import annotations

from collections import deque
import threading
from typing import Callable

from ros2_ssvif.alignment import AlignmentMonitor
from ros2_ssvif.config import FusionConfig
from ros2_ssvif.labels import write_labels_file
from ros2_ssvif.model_runner import ModelError
from ros2_ssvif.params import Configurable, RELOAD_PARTS
from ros2_ssvif.pipeline import build_pipeline, FrameError, FramePipeline
from ros2_ssvif.registration import RegistrationError
from ros2_ssvif.stats import PipelineStats


PARTS = RELOAD_PARTS


class _Request:

    def __init__(self, cfg: FusionConfig, parts: set, on_failure: Callable[[str], None] | None):
        self.cfg, self.parts, self.on_failure = cfg, set(parts), on_failure
        self.done = threading.Event()
        self.error = ''


class PipelineWorker(Configurable):
    """Pairs in (``submit``), outputs to ``sink`` through :meth:`FramePipeline.step`."""

    config_part = 'worker'

    def __init__(self, stats: PipelineStats, sink, log, max_pending_pairs: int = 1,
                 on_published: Callable[[], None] | None = None,
                 on_frame_error: Callable[[FrameError], None] | None = None,
                 on_model: Callable[[object], None] | None = None,
                 aligner: AlignmentMonitor | None = None):
        self.stats, self.sink, self.log = stats, sink, log
        self.on_model = on_model or (lambda model: None)
        self.max_pending_pairs = max_pending_pairs
        self.on_published = on_published or (lambda: None)
        self.on_frame_error = on_frame_error or (lambda exc: None)
        self.aligner = aligner or AlignmentMonitor()
        self.pipeline: FramePipeline | None = None
        self.state, self.message, self.note = 'idle', '', ''
        self.labels_file = ''
        self._pending: deque = deque()
        self._requests: deque = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._generation = 0  # unload() makes a load still running for the old one void
        self._thread = threading.Thread(target=self._run, name='ssvif_worker', daemon=True)
        self._loader = threading.Thread(target=self._load_loop, name='ssvif_loader', daemon=True)
        self._thread.start()
        self._loader.start()

    # -- loading --------------------------------------------------------------
    def request_load(self, cfg: FusionConfig, parts=PARTS,
                     on_failure: Callable[[str], None] | None = None) -> _Request:
        """Build the ``parts`` that changed on the loader thread; returns a handle (``done``)."""
        req = _Request(cfg, parts, on_failure)
        with self._cv:
            if self.pipeline is None:
                self.state, self.message = 'loading', self._loading_text(cfg, req.parts)
            else:
                self.note = (
                    self._loading_text(cfg, req.parts) + ' (the previous one keeps running)'
                )
            self._requests.append(req)
            self._cv.notify_all()
        return req

    def load_now(self, cfg: FusionConfig, parts=PARTS) -> str:
        """Load in the calling thread (lifecycle configure); '' on success, else the error."""
        req = _Request(cfg, parts, None)
        self._load(req, self._generation)
        return req.error

    def unload(self) -> None:
        with self._cv:
            self.pipeline, self.state, self.message, self.note = None, 'idle', '', ''
            self._pending.clear()
            self._generation += 1

    def _loading_text(self, cfg: FusionConfig, parts: set) -> str:
        first = '' if self.pipeline is not None else ': nothing is fused until it is loaded'
        if 'model' in parts and cfg.uses_tensorrt:
            return (f'building TensorRT engine for {cfg.resolved_model_path().name} '
                    f'(first start with this model/GPU takes minutes){first}')
        if 'model' in parts:
            return f'loading model {cfg.resolved_model_path()}{first}'
        return 'loading ' + ' and '.join(sorted(parts - {'model'})) + first

    def _load_loop(self) -> None:
        while True:
            with self._cv:
                while not self._requests and not self._stop:
                    self._cv.wait(0.5)
                if self._stop:
                    return
                req, generation = self._requests.popleft(), self._generation
            self._load(req, generation)

    def _load(self, req: _Request, generation: int) -> None:
        cfg, old = req.cfg, self.pipeline
        try:
            cfg.check_files()
            pipeline = build_pipeline(cfg, self.stats, self.aligner, reuse=old, parts=req.parts)
            model, registrar = pipeline.model, pipeline.registrar
        except (ModelError, RegistrationError, ValueError, OSError) as exc:
            req.error = ' '.join(str(exc).split())
            with self._cv:
                if old is None:
                    self.state, self.message, self.note = 'error', req.error, ''
                else:
                    self.note = f'kept the previous pipeline: {req.error}'
            self.log.error(f"pipeline not {'changed' if old else 'ready'}: {req.error}")
            if req.on_failure is not None and old is not None:
                req.on_failure(req.error)
            req.done.set()
            return
        pipeline.on_correction = self._log_correction
        if model is not (old.model if old else None):
            for note in getattr(model, 'notes', []):
                self.log.warning(note)
            self._write_labels(model)
            self.on_model(model)
            self.log.info(
                f'model {model.path.name} on {model.providers[0]}, '
                f'{len(model.class_names)} classes'
            )
        with self._cv:
            if generation == self._generation and not self._stop:
                if registrar is not (old.registrar if old else None):
                    self.aligner.bind(registrar)  # a new registration: a fresh verdict
                self.pipeline, self.state, self.message, self.note = pipeline, 'ready', '', ''
        req.done.set()

    def _log_correction(self, old, new) -> None:
        self.log.info(f'registration autocorrect: thermal remap shifted from '
                      f'({old[0]:+.2f}, {old[1]:+.2f}) to ({new[0]:+.2f}, {new[1]:+.2f}) px '
                      f"({self.stats.counts['registration_corrections']} changes so far)")

    def _write_labels(self, model) -> None:
        try:
            path = write_labels_file(model.path, model.class_names, model.metadata.palette)
            self.labels_file = str(path)
            self.log.info(f'class names and palette: {path}')
        except OSError as exc:
            self.log.warning(str(exc))

    # -- frames ---------------------------------------------------------------
    def submit(self, visible, thermal) -> None:
        with self._cv:
            if self.pipeline is None:
                self.stats.drop('not_ready')
                return
            self._pending.append((visible, thermal))
            while len(self._pending) > self.max_pending_pairs:
                self._pending.popleft()
                self.stats.drop('busy')
            self._cv.notify_all()

    def pending(self) -> int:
        return len(self._pending)

    def reset_time(self) -> None:
        """Stamps jumped back: the running thermal window and the monitor's history start again."""
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.normalizer.reset()
        self.aligner.time_reset()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    self._cv.wait(0.5)
                if self._stop:
                    return
                pair = self._pending.popleft()
                pipeline = self.pipeline
            if pipeline is None:
                self.stats.drop('not_ready')
                continue
            try:
                pipeline.step(pair[0], pair[1], self.sink)
                self.on_published()
            except FrameError as exc:
                self.on_frame_error(exc)
            except Exception as exc:  # never let one frame kill the worker (counted by step)
                self.log.error(f'unexpected error on a frame: {exc!r}')

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=timeout)
        self._loader.join(timeout=timeout)
