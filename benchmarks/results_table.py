"""Append a dated section to benchmarks/RESULTS.md.

Benchmarks report ratios measured within one run (the machines are shared
and noisy); absolute times are labelled with the machine they ran on.
"""
from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = ("# Benchmark results\n\nDated sections, newest last. Ratios are measured within one run; absolute\n"
          "times depend on the machine named in each section. Regenerate with the commands shown.\n")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def append_section(title: str, command: str, rows: list[dict], notes: str = "") -> str:
    """Write a markdown table (columns from the first row) under a dated heading."""
    cols = list(rows[0]) if rows else []
    lines = [f"\n## {date.today().isoformat()}: {title}\n", f"Machine: {machine()}  ", f"Command: `{command}`\n"]
    if cols:
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for r in rows:
            lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
    if notes:
        lines.append("\n" + notes.strip())
    text = "\n".join(lines) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as f:
        f.write(text)
    return text


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)
