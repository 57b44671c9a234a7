"""Draw one reference rendering per figure type from synthetic data (no real data needed).

Run from the repository root::

    .venv/bin/python docs/figures/make_reference_figures.py

The PNGs land beside this script. The inputs (written to a temporary folder) come from
:func:`netregions.plotting.demo.make_demo_inputs` on the workflow's default 4 mm grid with 8
networks; the output is deterministic (same inputs, byte-identical PNGs).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from netregions.plotting import (
    plot_components,
    plot_connectome,
    plot_matrix,
    plot_network,
    plot_regions,
)
from netregions.plotting.demo import make_demo_inputs

#: Network shown on its own (the workflow's default, as in the reference example).
NETWORK = 4


def make_reference_figures(destination: Path) -> list[Path]:
    """Write the six reference PNGs into ``destination``; return their paths."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_demo_inputs(tmp, seed=0)
        bg = inputs["background"]
        outputs = [
            plot_components(inputs["components"], bg, destination / "components.png"),
            plot_regions(
                inputs["regions"], inputs["regions_table"], bg, destination / "regions.png"
            ),
            plot_matrix(inputs["connectome"], inputs["regions_table"], destination / "matrix.png"),
            plot_connectome(
                inputs["connectome"],
                inputs["regions_table"],
                inputs["mask"],
                destination / "connectome.png",
            ),
            *plot_network(
                inputs["components"],
                inputs["regions"],
                inputs["regions_table"],
                bg,
                NETWORK,
                destination / f"network_{NETWORK}.png",
                destination / f"network_{NETWORK}_regions.png",
            ),
        ]
    return outputs


if __name__ == "__main__":
    for path in make_reference_figures(Path(__file__).resolve().parent):
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)", file=sys.stdout)
