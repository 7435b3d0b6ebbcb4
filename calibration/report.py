"""The human-readable side of a calibration: report.md and its PNGs."""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calibration.normalize import stretch  # noqa: E402


def _to_bgr8(img: np.ndarray) -> np.ndarray:
    g = img if img.dtype == np.uint8 else stretch(img)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR) if g.ndim == 2 else cv2.cvtColor(g, cv2.COLOR_RGB2BGR)


def draw_detection(img: np.ndarray, det) -> np.ndarray:
    out = _to_bgr8(img)
    pts = det.image_points
    for k, (x, y) in enumerate(pts):
        col = (0, 0, 255) if k == 0 else (0, 220, 0)
        cv2.circle(out, (int(round(x * 4)), int(round(y * 4))), 12, col, 1, cv2.LINE_AA, 2)
    cv2.polylines(out, [np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)], False, (255, 160, 0), 1, cv2.LINE_AA, 2)
    return out


def registered_checker(reg, vis: np.ndarray, th: np.ndarray, tile: int = 32, max_width: int = 640,
                       board_distance: float | None = None) -> np.ndarray:
    """One view registered both ways, as a fine checker of visible (grey)
    and thermal (colour-mapped, so the two are told apart at a glance):
    edges that run straight across tile borders show the registration is
    right at the plane named in the title strip; elsewhere parallax breaks them."""
    maps = reg.build_maps()
    a = cv2.cvtColor(cv2.cvtColor(_to_bgr8(maps.register_visible(vis)), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    b = cv2.applyColorMap(stretch(maps.register_thermal(th)), cv2.COLORMAP_INFERNO)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.where(((yy // tile + xx // tile) % 2 == 0)[..., None], a, b)
    if w > max_width:
        out = cv2.resize(out, (max_width, int(round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    d = reg.info.get("plane_distance_m")
    label = f"plane {d} m" if d is not None else "board-corner homography"
    if board_distance is not None:
        label += f", board here at {board_distance:.2f} m"
    label += f"; grey = visible, colour = thermal, {tile} px tiles"
    strip = np.full((22, out.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, out])


def error_plot(path: Path, per_view: dict[str, dict[str, float]], rejected: dict[str, dict[str, float]]) -> None:
    fig, axes = plt.subplots(len(per_view), 1, figsize=(8, 2.6 * len(per_view)), squeeze=False)
    for ax, (cam, errs) in zip(axes[:, 0], per_view.items()):
        names = sorted(set(errs) | set(rejected.get(cam, {})))
        vals = [errs.get(n, rejected.get(cam, {}).get(n, 0.0)) for n in names]
        cols = ["tab:red" if n in rejected.get(cam, {}) else "tab:blue" for n in names]
        ax.bar(range(len(names)), vals, color=cols)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_ylabel("RMS px")
        ax.set_title(f"{cam}: per-view reprojection error (red = rejected)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(out: Path, summary: dict, figures: dict[str, np.ndarray], per_view, rejected) -> Path:
    """Write PNGs and report.md; ``summary`` holds the numbers."""
    out = Path(out)
    for name, img in figures.items():
        cv2.imwrite(str(out / name), img)
    error_plot(out / "per_view_error.png", per_view, rejected)
    lines = ["# Calibration report", ""]
    for key, val in summary.items():
        if isinstance(val, dict):
            lines.append(f"## {key}")
            lines += [f"- {k}: {v}" for k, v in val.items()]
            lines.append("")
        else:
            lines.append(f"- **{key}**: {val}")
    lines.append("")
    lines += [f"![{n}]({n})" for n in [*figures, "per_view_error.png"]]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
