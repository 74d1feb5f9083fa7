"""One table renderer for every report page, so every table looks and reads the same.

A report builds a DataFrame whose column names are field names or labels and
whose numbers are still numbers; :func:`render_table` turns it into escaped
HTML a reviewer can read:

- headers through the one label map (:func:`p2c_research.labels.label`), so a
  field name such as ``usd_per_capita`` reads "Support (USD per person)";
- numbers to three significant figures (:func:`p2c_research.textfmt.sig`:
  0.165, not "0.20"), whole numbers as they are, years without a separator,
  missing values as "–";
- text aligned left, numbers right (a column of formatted numbers such as
  "0.165 (2022)" counts as numbers);
- a table longer than :data:`COLLAPSE_ROWS` folded into ``<details>`` with a
  summary line, and wide tables scrolling sideways instead of squeezing
  their text into a narrow column.

The HTML has no random ids (unlike a pandas Styler), so a rerun writes the
same page. Every cell and header is escaped: tables carry untrusted text
(priority titles from params, pledge entities and descriptions).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from p2c_research.escaping import html_text
from p2c_research.labels import label
from p2c_research.textfmt import sig

#: Tables with more rows than this are collapsed into ``<details>`` (a table of
#: about 30 rows still fits a screen or two and is the point of its section).
COLLAPSE_ROWS = 30
#: Lists of records (pledges) collapse sooner: they are for looking things up.
COLLAPSE_LIST_ROWS = 10
#: What a missing value reads.
MISSING = "–"
#: Cell text that says "nothing here" and does not decide a column's alignment.
PLACEHOLDERS = frozenset({"", MISSING, "n/a", "no data", "none", "not fitted"})
#: A cell that starts like a number ("0.165", "-3.2", "USD 4.1m", "45% (3/5)", "[1.2, 3]").
_NUMBERISH = re.compile(r"^\s*(USD\s*)?[\[(]?[-+\u2212]?\d")
#: Columns whose text is long prose: given room to wrap at a readable width.
PROSE_MIN_WIDTH = "24em"

CSS = (
    ".p2c-table-wrap{overflow-x:auto;max-width:100%;margin:.4rem 0 1rem}"
    ".p2c-table{border-collapse:collapse;font-size:.9em}"
    ".p2c-table th,.p2c-table td{padding:.25rem .55rem;border-bottom:1px solid #e2e2e2;"
    "vertical-align:top}"
    ".p2c-table thead th{background:#f4f4f4;border-bottom:1px solid #bbb}"
    # table.x td.y outranks the notebook CSS that aligns every cell right
    "table.p2c-table td.txt,table.p2c-table th.txt{text-align:left}"
    "table.p2c-table td.num,table.p2c-table th.num{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".p2c-table td.num{white-space:nowrap}"
    ".p2c-table td.lead{min-width:12em}.p2c-table td.key{white-space:nowrap}"
    f".p2c-table td.prose{{min-width:{PROSE_MIN_WIDTH}}}"
    "details.p2c-details>summary{cursor:pointer;color:#1a4f8b;margin:.3rem 0}"
)


@dataclass(frozen=True)
class HtmlTable:
    """A rendered table: shown as HTML by IPython, and its markup as ``html``."""

    html: str
    n_rows: int
    collapsed: bool

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def is_year_column(name: str) -> bool:
    """True for a column of calendar years (shown as 2024, never 2,024)."""
    low = str(name).lower()
    return ("year" in low and low != "years"
            and not any(w in low for w in ("per year", "a year", "/yr", "years to")))


def format_cell(value: object, *, year: bool = False) -> str:
    """One cell as text: numbers by significant figures, whole numbers and years as they are."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value)) if year else f"{int(value):,}"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return MISSING
        if year and float(value).is_integer():
            return str(int(value))
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 1000 else str(int(value))
        return sig(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    text = str(value)
    return MISSING if text in ("nan", "<NA>", "NaT", "None") else text


def numeric_column(values: pd.Series) -> bool:
    """True when a column reads as numbers: a numeric dtype, or text cells that mostly
    start like a number (placeholders such as "n/a" do not count either way)."""
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    cells = [str(v).strip() for v in values if not _missing(v)]
    cells = [c for c in cells if c not in PLACEHOLDERS]
    if not cells:
        return False
    hits = sum(bool(_NUMBERISH.match(c)) for c in cells)
    return hits / len(cells) > 0.5


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def header_text(name: object) -> str:
    """A column header: the label of a field name or id, else the name as given."""
    return label(str(name))


def render_table(frame: pd.DataFrame, *, caption: str = "", summary: str | None = None,
                 collapse_rows: int = COLLAPSE_ROWS, numeric: Iterable[str] = (),
                 text: Iterable[str] = (), prose: Iterable[str] = (),
                 max_rows: int | None = None, note: str = "") -> HtmlTable:
    """``frame`` as one of the reports' tables (see the module docstring).

    Args:
        frame: the rows to show; column names are field names (labelled here)
            or labels already; numbers may stay numbers.
        caption: a line in italics above the table (escaped); default
            ``frame.attrs["caption"]``.
        summary: the ``<details>`` summary when the table is collapsed; default
            ``frame.attrs["summary"]``, else "<n> rows — show".
        collapse_rows: collapse when there are more rows than this (0: never).
        numeric / text: columns forced to read as numbers / text.
        prose: long-text columns given room to wrap at a readable width
            (default: columns named ``description``, ``note``, ``rule`` ...).
        max_rows: show only the first rows, with a line saying how many there are.
        note: a line in italics below the table (escaped).
    """
    caption = caption or frame.attrs.get("caption", "")
    summary = summary or frame.attrs.get("summary")
    shown = frame if max_rows is None else frame.head(max_rows)
    numeric, text = set(numeric), set(text)
    prose_cols = set(prose) or {c for c in frame.columns if _is_prose(c)}
    # A first column of long names (indicators, pledges) keeps a readable width.
    lead_col = shown.columns[0] if len(shown.columns) else None
    lead_len = shown[lead_col].astype(str).str.len().max() if lead_col is not None else 0
    long_lead = bool(lead_len > 24)
    classes: list[str] = []
    for col in shown.columns:
        if col in text:
            classes.append("txt")
        elif col in numeric or numeric_column(shown[col]):
            classes.append("num")
        else:
            classes.append("txt")
    head = "".join(f'<th class="{cls}">{html_text(header_text(col))}</th>'
                   for col, cls in zip(shown.columns, classes, strict=True))
    years = [is_year_column(str(c)) or is_year_column(header_text(c)) for c in shown.columns]
    body_rows = []
    for row in shown.itertuples(index=False, name=None):
        cells = []
        for value, cls, col, year in zip(row, classes, shown.columns, years, strict=True):
            extra = " prose" if col in prose_cols and cls == "txt" else ""
            if col == lead_col and cls == "txt":
                extra += " lead" if long_lead else " key" if lead_len <= 12 else ""
            cells.append(f'<td class="{cls}{extra}">'
                         f"{html_text(format_cell(value, year=year))}</td>")
        body_rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<div class="p2c-table-wrap"><table class="p2c-table"><thead><tr>{head}</tr>'
             f"</thead><tbody>{''.join(body_rows)}</tbody></table></div>")
    if max_rows is not None and len(frame) > max_rows:
        note = (f"First {max_rows} of {len(frame)} rows; the CSV has them all. " + note).strip()
    parts = [f"<style>{CSS}</style>"]
    if caption:
        parts.append(f"<p><em>{html_text(caption)}</em></p>")
    collapsed = bool(collapse_rows) and len(shown) > collapse_rows
    if collapsed:
        line = summary or f"{len(shown)} rows \u2014 show"
        parts.append(f'<details class="p2c-details"><summary>{html_text(line)}</summary>'
                     f"{table}</details>")
    else:
        parts.append(table)
    if note:
        parts.append(f"<p><em>{html_text(note)}</em></p>")
    return HtmlTable(html="\n".join(parts), n_rows=len(shown), collapsed=collapsed)


def _is_prose(column: object) -> bool:
    name = str(column).lower()
    return any(word in name for word in ("description", "note", "rule", "reason", "what the",
                                         "measured by", "source"))


def collapsed_list(title: str, frame: pd.DataFrame, *, caption: str = "") -> HtmlTable:
    """A table that is always folded into ``<details>`` behind ``title`` (e.g. the
    indicators without data: listed once, out of the way of the tables that have numbers)."""
    return render_table(frame, caption=caption, summary=title, collapse_rows=-1 if len(frame)
                        else 0)


def no_data_list(missing: pd.DataFrame, country: str, caption: str) -> HtmlTable:
    """The indicators without data for ``country``, listed once with the reason, folded.

    ``missing`` has the columns ``name``, ``sub_pillar`` and ``reason``
    (:func:`p2c_research.analyses.coverage.indicators_without_data`); an empty
    frame gives an empty block. Every report shows this list the same way.
    """
    if missing.empty:
        return HtmlTable(html="", n_rows=0, collapsed=False)
    table = pd.DataFrame({"indicator": missing["name"],
                          "sub_pillar": missing["sub_pillar"].map(label),
                          "reason": missing["reason"]})
    return collapsed_list(f"{len(table)} indicator(s) without data for {country}, with the "
                          "reason \u2014 show", table, caption=caption)
