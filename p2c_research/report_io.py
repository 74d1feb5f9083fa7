"""Where a country's outputs go, and the plain statements at the top of every report.

Output names are deterministic (``OUT/<ISO3>/tables/<name>.csv``,
``OUT/<ISO3>/figures/<name>.png``) so reruns overwrite, diffs mean something
and ``--resume`` knows what is done. Every write is atomic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from p2c_research import countries
from p2c_research.escaping import escaped_table, md_text
from p2c_research.render.images import RenderedImage, figure_png, saved_alt
from p2c_research.store import atomic_path, write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from p2c_research.datasets import DataSelection
    from p2c_research.params import CountryParams

SYNTHETIC_PLEDGES_NOTICE = (
    "**The pledges in this report are SYNTHETIC.** No pledge-level P2C dataset is public; "
    "they come from a seeded generator calibrated to the published P2C totals (Dec 2023), "
    "so country-level pledge figures are illustrative, not real commitments."
)


def percentile_text(percentile: float, peer_n: float, *, has_value: bool = True) -> str:
    """A peer percentile as every report and the index show it.

    The number (rounded) when there is one; "too few peers (n)" when the
    country has a value but the analysis withheld the percentile because
    fewer than ``analysis.peer_min_n`` peers have one (the CSV keeps NaN and
    ``peer_n``); "n/a" when the country has no value or no peer has one.
    """
    if pd.notna(percentile):
        return f"{percentile:.0f}"
    if has_value and pd.notna(peer_n) and peer_n > 0:
        return f"too few peers ({int(peer_n)})"
    return "n/a"


def country_output_dir(out_dir: Path | str, iso3: str) -> Path:
    """``OUT/<ISO3>``; the code is validated first, so no path traversal."""
    code = countries.validate_iso3(iso3)
    path = Path(out_dir) / code
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_relative(path: Path | str) -> str:
    """A file written here as a reader of any copy of the outputs finds it: ``<ISO3>/tables/x.csv``.

    Every country output is ``OUT/<ISO3>/<kind>/<file>`` (:func:`save_table`,
    :func:`save_figure`), so the last three parts name it within the output folder.
    """
    return "/".join(Path(path).parts[-3:])


def read_country_tables(out_dir: Path | str, codes: list[str], names: Iterable[str]
                        ) -> dict[str, pd.DataFrame]:
    """The tables ``names`` that :func:`save_table` wrote for ``codes`` in a batch's output
    folder, each concatenated over the countries with an ``iso3`` column.

    A country without a table (its report failed or did not run) is left out of
    it; a table no country has is missing from the result.
    """
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    for code in codes:
        for name in parts:
            try:
                frame = pd.read_csv(Path(out_dir) / code / "tables" / f"{name}.csv")
            except (OSError, ValueError, pd.errors.EmptyDataError):
                continue
            parts[name].append(frame.assign(iso3=code))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items() if frames}


def save_table(frame: pd.DataFrame, out_dir: Path | str, iso3: str, name: str) -> Path:
    """Write ``OUT/<ISO3>/tables/<name>.csv`` atomically, spreadsheet formulas made inert."""
    return write_csv(frame, country_output_dir(out_dir, iso3) / "tables" / f"{name}.csv")


def save_figure(fig: Figure | RenderedImage, out_dir: Path | str, iso3: str, name: str,
                dpi: int = 110) -> Path:
    """Write ``OUT/<ISO3>/figures/<name>.png`` atomically (reusing a rendering already made).

    ``fig`` may also be a finished :class:`RenderedImage`, written as it is.
    """
    path = country_output_dir(out_dir, iso3) / "figures" / f"{name}.png"
    data = fig.png if isinstance(fig, RenderedImage) else figure_png(fig, dpi)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    _alt_by_path[str(path)] = saved_alt(fig)
    return path


#: Alt text of each figure file written by this process (:func:`saved_image`).
_alt_by_path: dict[str, str] = {}


def saved_image(path: Path | str):
    """A figure file written by :func:`save_figure`, as an IPython image with its alt text."""
    from IPython.display import Image

    return Image(filename=str(path), alt=_alt_by_path.get(str(path)) or None)


def report_header(params: CountryParams, selection: DataSelection, title: str,
                  *, shows_pledges: bool = False) -> str:
    """Markdown for the first cell of a report: what it is, which data, which caveats.

    Synthetic pledges and provisional priorities are stated in the first lines,
    before any number, so no reader can miss them; so is the headline peer set
    (``params.headline_peers``), the same in all three reports, with the reason
    when a country that is not an ITU member is compared with its World Bank region.
    Text from params and data files is shown literally
    (:func:`p2c_research.escaping.md_text`).
    """
    from p2c_research.params import headline_peers

    name = md_text(params.country_name)
    lines = [f"# {md_text(title)}: {name} ({params.country})", ""]
    if shows_pledges and selection.pledges_synthetic:
        lines += [f"> {SYNTHETIC_PLEDGES_NOTICE}", ""]
    lines += [f"> {md_text(selection.describe())}", ""]
    pr = params.strategic_priorities
    if pr.provisional:
        lines += [
            "> **Strategic priorities are PROVISIONAL** for this country: "
            f"{md_text(pr.source.strip())}",
            "",
        ]
    else:
        lines += [f"Strategic priorities: {md_text(pr.source.strip())}", ""]
    lines += [
        f"Reference year {params.reference_year}; latest values within "
        f"{params.year_window.start}-{params.year_window.end}.",
        "",
        md_text(headline_peers(params).sentence),
        "",
        "How every number is made, and its known limits: [methodology](../methodology.html) "
        "(docs/methodology.md).",
    ]
    return "\n".join(lines)


def styled(frame: pd.DataFrame, precision: int = 2):
    """A table for reviewers: no index column, '–' for missing values, HTML-escaped text,
    text columns aligned left (numbers stay right-aligned, as the notebook CSS sets them).

    Escaping matters: tables carry untrusted text (priority titles, peer labels
    and target sources from params, pledge entities and descriptions), in cells
    and in column headers, and a pandas Styler escapes nothing unless asked
    and only the cells when asked (:func:`p2c_research.escaping.escaped_table`).
    """
    return text_left(escaped_table(frame.style.hide(axis="index").format(
        na_rep="–", precision=precision, escape="html")))


def text_left(styler):
    """``styler`` with its text columns aligned left, cells and headers (numbers stay right).

    Notebook and report CSS align every table cell right, which makes
    indicator names and notes hard to read. One CSS rule covers the columns.
    """
    frame = styler.data
    text = [k for k, col in enumerate(frame.columns)
            if not pd.api.types.is_numeric_dtype(frame.iloc[:, k])]
    if not text:
        return styler
    selectors = ", ".join(f"td.col{k}, th.col_heading.col{k}" for k in text)
    return styler.set_table_styles([{"selector": selectors, "props": "text-align: left;"}],
                                   overwrite=False)
