"""The reliability plot saved beside a gold-set report (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def reliability_plot(calibration: Mapping[str, Any], path: str | Path, title: str) -> Path:
    """Draw mean confidence against the share right per bin (marker area by count), with the
    diagonal a calibrated model follows, to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never a window
    import matplotlib.pyplot as plt

    bins = calibration["bins"]
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=100)
    try:
        ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1,
                label="calibrated")
        if bins:
            xs = [b["mean_confidence"] for b in bins]
            ys = [b["share_right"] for b in bins]
            sizes = [20 + 180 * b["n"] / max(x["n"] for x in bins) for b in bins]
            ax.plot(xs, ys, color="#1f5fa8", linewidth=1.5)
            ax.scatter(xs, ys, s=sizes, color="#1f5fa8", zorder=3, label="bins (area: count)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("share of answers right")
        ax.set_title(f"{title}\nECE {calibration['ece']:.3f}, {calibration['n']} questions",
                     fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
