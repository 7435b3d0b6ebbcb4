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
Append a dated section to benchmarks/RESULTS.md.

Benchmarks report ratios measured within one run (the machines are shared
and noisy); absolute times are labelled with the machine they ran on.
"""
from __future__ import annotations

from datetime import date
import os
from pathlib import Path
import platform


RESULTS = Path(__file__).resolve().parent / 'RESULTS.md'
HEADER = (
    '# Benchmark results\n\n'
    'Dated sections, newest last. Ratios are measured within one run; absolute\n'
    'times depend on the machine named in each section. Regenerate with the commands shown.\n'
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return f'{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}'


def append_section(title: str, command: str, rows: list[dict], notes: str = '') -> str:
    """Write a markdown table (columns from the first row) under a dated heading."""
    cols = list(rows[0]) if rows else []
    lines = [
        f'\n## {date.today().isoformat()}: {title}\n',
        f'Machine: {machine()}  ',
        f'Command: `{command}`\n',
    ]
    if cols:
        lines.append('| ' + ' | '.join(cols) + ' |')
        lines.append('|' + '---|' * len(cols))
        for r in rows:
            lines.append('| ' + ' | '.join(_fmt(r.get(c, '')) for c in cols) + ' |')
    if notes:
        lines.append('\n' + notes.strip())
    text = '\n'.join(lines) + '\n'
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open('a') as f:
        f.write(text)
    return text


def _fmt(v) -> str:
    if isinstance(v, float):
        return f'{v:.3g}' if abs(v) < 100 else f'{v:.0f}'
    return str(v)
