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
Hand bag messages on in header-stamp order, within a window of log time (ROS-free).

A recorder logs messages as they arrive; two frames of one camera can be
logged in swapped order (a driver thread, a busy disk), and the pairing
(:mod:`ros2_ssvif.pairing`), which like a live camera expects each stream in
stamp order, would drop the late one. Offline the fix costs nothing but a
short wait: each message waits until messages logged ``window_ns`` later
have been read, and leaves in stamp order. A live node cannot wait like
this without adding latency, so only ``process_bag`` uses it.
"""
from __future__ import annotations

import heapq


REORDER_MAX = 256  # messages held at most, whatever their log times


class StampOrder:
    """
    Hands messages on in header-stamp order, each after ``window_ns`` of later log time.

    A stamp that jumps back by more than ``jump_s`` (a bag of two recordings)
    first releases everything held: that is a new time line, not a late frame.
    """

    def __init__(self, window_ns: int, jump_s: float, limit: int = REORDER_MAX):
        self.window_ns, self.jump_s, self.limit = window_ns, jump_s, limit
        self._heap: list = []
        self._seq = 0
        self._last: float | None = None

    def push(self, stamp: float, t_ns: int, item) -> list:
        out = []
        if self._last is not None and stamp < self._last - self.jump_s:
            out = self.flush()
        heapq.heappush(self._heap, (stamp, self._seq, t_ns, item))
        self._seq += 1
        while self._heap and (len(self._heap) > self.limit
                              or t_ns - self._heap[0][2] >= self.window_ns):
            out.append(self._pop())
        return out

    def _pop(self):
        stamp, _, _, item = heapq.heappop(self._heap)
        self._last = stamp
        return item

    def flush(self) -> list:
        return [self._pop() for _ in range(len(self._heap))]


__all__ = ['REORDER_MAX', 'StampOrder']
