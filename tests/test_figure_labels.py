"""What the charts write: plain tick labels on log axes, no zeros in the pledge matrix."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

from p2c_research.figures import benchmark as fb
from p2c_research.figures import pledges as pf

matplotlib.use("Agg")


def _drawn_labels(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


def test_log_axes_are_labelled_with_plain_numbers_not_mathtext() -> None:
    gdp = np.array([800.0, 2_500.0, 9_000.0, 30_000.0, 90_000.0])
    data = pd.DataFrame({"iso3": ["A", "B", "C", "D", "E"], "gdp_pc_ppp": gdp,
                         "value": [0.5, 3.0, 12.0, 40.0, 80.0]})
    curve = pd.DataFrame({"gdp_pc_ppp": gdp, "fitted": gdp / 1000})
    curve["pi_low"], curve["pi_high"] = curve["fitted"] / 2, curve["fitted"] * 2
    fig = fb.benchmark_scatter(data, curve, iso3="C", country_label="C", title="t",
                               ylabel="v", source="Source: test", y_scale="log")
    fig.canvas.draw()
    ax = fig.axes[0]
    for axis in (ax.xaxis, ax.yaxis):
        labels = _drawn_labels(axis)
        assert labels and not any("$" in s for s in labels), labels
        # Each label is its tick's value written out: 1,000 / 10,000 / 0.1 ...
        ticks = {f"{v:,.10g}" for v in axis.get_majorticklocs()}
        assert set(labels) <= ticks
    assert "10,000" in _drawn_labels(ax.xaxis)


def test_symlog_axis_of_the_need_support_chart_is_plain() -> None:
    rows = pd.DataFrame({"iso3": ["A", "B", "C"], "need": [20.0, 60.0, 90.0],
                         "usd_per_capita": [0.0, 0.5, 40.0],
                         "flag": ["supported", "moderate", "high need, thin support"]})
    fig = pf.need_support_scatter(rows, highlight="B", title="t", source="Source: test")
    fig.canvas.draw()
    labels = _drawn_labels(fig.axes[0].xaxis)
    assert "0.1" in labels and "10" in labels
    assert not any("$" in s for s in labels)


def test_matrix_heatmap_writes_counts_but_leaves_empty_cells_blank() -> None:
    matrix = pd.DataFrame({
        "priority_id": ["infra", "skills", "TOTAL"],
        "pillar: access": [2, 0, 2],
        "pillar: adoption": [0, 0, 0],
        "stakeholder: government": [1, 0, 1],
        "pledges": [2, 0, 2],
        "usd_allocated": [10.0, 0.0, 10.0],
    })
    fig = pf.matrix_heatmap(matrix, title="t", source="Source: test")
    ax = fig.axes[0]
    cells = {}
    for t in ax.texts:
        x, y = t.get_position()
        if float(x) % 1 == 0.5 and float(y) % 1 == 0.5:
            cells[(int(y), int(x))] = t.get_text()
    # Inner cells (rows infra, skills; three columns): only the non-zero counts.
    assert {k: v for k, v in cells.items() if k[0] < 2 and k[1] < 3} == {(0, 0): "2", (0, 2): "1"}
    # Totals (last row, last column) are all written, zeros included.
    assert cells[(1, 3)] == "0" and cells[(2, 1)] == "0" and cells[(2, 3)] == "2"
    assert sum(1 for k in cells if k[0] == 2 or k[1] == 3) == 6
