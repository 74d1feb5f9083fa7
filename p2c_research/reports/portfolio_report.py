"""The portfolio page (``OUT/portfolio.html``): every country of a batch side by side.

``notebooks/04_portfolio.ipynb`` calls :func:`build` and :func:`save` and
shows each of ``report.sections`` (:mod:`~p2c_research.reports.contract`);
the batch runs it once after its countries
(:mod:`p2c_research.runner.portfolio`). Values are read from the tables each
country's reports wrote (``OUT/<ISO3>/tables/``) and how each report ended
from ``OUT/manifest.json``, so the page costs no recomputation and says
exactly what the country reports say. A country whose reports failed is
listed as failed, with the values of the reports that succeeded.

The table is plain HTML ordered by ITU-D region, then country; a small inline
script sorts it on a header click, and without JavaScript it reads as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from p2c_research import countries
from p2c_research.analyses.portfolio import (
    PORTFOLIO_COLUMNS,
    TABLE_NOTEBOOK,
    VERDICT_COUNT_COLUMNS,
    CountryRun,
    pillar_columns,
    portfolio_table,
    region_counts,
)
from p2c_research.catalog import SCORED_PILLARS
from p2c_research.escaping import html_text
from p2c_research.labels import label
from p2c_research.render.images import RenderedImage, figure_png
from p2c_research.report_io import (
    SYNTHETIC_PLEDGES_NOTICE,
    percentile_text,
    read_country_tables,
)
from p2c_research.reports.contract import Section
from p2c_research.store import atomic_write_bytes, write_csv
from p2c_research.textfmt import sig

CSV_NAME = "portfolio.csv"
FIGURE_NAME = "portfolio_pillar_scores.png"
#: The verdict counts shown on the page (the CSV also has "no verdict" and "no data").
SHOWN_VERDICTS = ("well_below", "below", "on_par", "above", "well_above")

#: Selectors carry the table's id so they win over the notebook page's own table CSS
#: (which aligns every cell right).
CSS = """
#p2c-portfolio-table{border-collapse:collapse;font-size:12px;table-layout:auto}
#p2c-portfolio-table th,#p2c-portfolio-table td{border-bottom:1px solid #ddd;
padding:.2rem .4rem;vertical-align:top;text-align:left}
#p2c-portfolio-table th{background:#f4f4f4;font-weight:600}
#p2c-portfolio-table tr.sortable th{cursor:pointer}
#p2c-portfolio-table th.group{text-align:center;border-bottom:2px solid #bbb}
#p2c-portfolio-table td.num,#p2c-portfolio-table th.num{text-align:right;
font-variant-numeric:tabular-nums}
#p2c-portfolio-table tbody tr.region td{background:#e6eef7;font-weight:600;text-align:left}
#p2c-portfolio-table td.failed{color:#b00020;font-weight:600}
#p2c-portfolio-table th[aria-sort=ascending]::after{content:" \\25B2"}
#p2c-portfolio-table th[aria-sort=descending]::after{content:" \\25BC"}
"""

#: Sorts the table on a header click (numbers by value, text alphabetically,
#: empty cells last); region rows are hidden while sorted on another column.
SORT_SCRIPT = """
(function(){
  var table=document.getElementById("p2c-portfolio-table"); if(!table){return;}
  var body=table.tBodies[0], heads=table.tHead.rows[table.tHead.rows.length-1].cells;
  var original=Array.prototype.slice.call(body.rows);
  Array.prototype.forEach.call(heads,function(th,col){
    th.setAttribute("tabindex","0");
    function sort(){
      var dir=th.getAttribute("aria-sort")==="ascending"?"descending":"ascending";
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
      th.setAttribute("aria-sort",dir);
      var rows=original.filter(function(r){return !r.classList.contains("region");});
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute("data-v"), y=b.cells[col].getAttribute("data-v");
        if(x===""&&y===""){return 0;} if(x===""){return 1;} if(y===""){return -1;}
        var nx=parseFloat(x), ny=parseFloat(y), c;
        c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
        return dir==="ascending"?c:-c;
      });
      original.forEach(function(r){if(r.classList.contains("region")){r.style.display="none";}});
      rows.forEach(function(r){body.appendChild(r);});
    }
    th.addEventListener("click",sort);
    th.addEventListener("keydown",function(e){if(e.key==="Enter"){sort();}});
  });
})();
"""


@dataclass
class PortfolioTables:
    """The table ``save`` writes as ``OUT/portfolio.csv``."""

    portfolio: pd.DataFrame


@dataclass
class PortfolioFigures:
    """The figure ``save`` writes as ``OUT/portfolio_pillar_scores.png``."""

    pillar_scores: RenderedImage


@dataclass
class Portfolio:
    """The portfolio of one batch output folder, ready to save and show.

    ``table`` is the page's frame (every column the page and the CSV use).
    """

    out_dir: Path
    table: pd.DataFrame
    data_description: str
    generated_at: str
    synthetic_pledges: bool
    image: RenderedImage | None = None

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] != "ok"]

    @property
    def tables(self) -> PortfolioTables:
        return PortfolioTables(portfolio=self.table[PORTFOLIO_COLUMNS])

    @property
    def figures(self) -> PortfolioFigures:
        """The small multiples, rendered on first use (:func:`figure`)."""
        return PortfolioFigures(pillar_scores=figure(self))

    @cached_property
    def sections(self) -> PortfolioSections:
        return PortfolioSections(self)

    def header(self) -> str:
        """Markdown for the page's first cell: what it shows and on which data."""
        n = len(self.table)
        regions = region_counts(self.table)
        lines = ["# Portfolio: every country side by side", ""]
        if self.synthetic_pledges:
            lines += [f"> {SYNTHETIC_PLEDGES_NOTICE}", ""]
        lines += [
            f"> {_md(self.data_description or 'Data: not recorded in manifest.json.')}", "",
            f"{n} countr{'y' if n == 1 else 'ies'} in {len(regions)} ITU-D region group(s)"
            f"{'; ' + str(len(self.failed)) + ' with failed reports' if len(self.failed) else ''}."
            f" Reports of {_md(self.generated_at or 'an unknown date')}.",
            "",
            "Every value is read from the country's own report tables (`<ISO3>/tables/`); "
            "nothing is recomputed. [All country reports](index.html) · "
            "[methodology](methodology.html) · [portfolio.csv](portfolio.csv).",
        ]
        return "\n".join(lines)


def _md(text: object) -> str:
    from p2c_research.escaping import md_text

    return md_text(text)


# --------------------------------------------------------------------------- reading
def read_manifest(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def country_runs(manifest: dict, codes: list[str]) -> list[CountryRun]:
    """How the reports of each of ``codes`` ended, from the manifest's entries.

    An empty ``codes`` means every country the manifest lists. A country with
    no entry is ``not run``; one with a failed report is ``failed``.
    """
    by_country: dict[str, list[dict]] = {}
    for entry in manifest.get("outputs", []):
        by_country.setdefault(str(entry.get("country")), []).append(entry)
    wanted = codes or sorted(c for c in by_country if countries.is_economy(c))
    runs = []
    for code in dict.fromkeys(wanted):
        entries = by_country.get(code, [])
        failed = [e for e in entries if e.get("status") not in ("ok", "skipped")]
        if not entries:
            runs.append(CountryRun(code, "not run", tuple(TABLE_NOTEBOOK.values()),
                                   "no report of this country in manifest.json"))
        elif failed:
            runs.append(CountryRun(code, "failed", tuple(str(e.get("notebook")) for e in failed),
                                   "; ".join(f"{e.get('notebook')}: {e.get('error', '')}"
                                             for e in failed)))
        else:
            runs.append(CountryRun(code, "ok"))
    return runs


def read_tables(out_dir: Path, codes: list[str]) -> dict[str, pd.DataFrame]:
    """The tables the portfolio reads (:data:`TABLE_NOTEBOOK`) of ``codes``, each concatenated."""
    return read_country_tables(out_dir, codes, TABLE_NOTEBOOK)


def reference() -> pd.DataFrame:
    """``iso3, name, itu_region`` of every economy (region missing for non-members)."""
    econ = countries.load_countries()[["iso3", "name"]]
    regions = countries.load_itu_regions()[["iso3", "itu_region"]]
    return econ.merge(regions, on="iso3", how="left")


def build(codes: list[str] | None = None, out_dir: str | Path = "outputs") -> Portfolio:
    """The portfolio of ``codes`` (default: every country in the manifest) in ``out_dir``."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    valid = [countries.validate_iso3(c) for c in (codes or [])]
    runs = country_runs(manifest, valid)
    tables = read_tables(out, [r.iso3 for r in runs])
    frame = portfolio_table(tables, runs, reference())
    description = str(manifest.get("data", {}).get("description", ""))
    basis = frame["pledge_basis"].astype("string").str.contains("synthetic", case=False)
    return Portfolio(out_dir=out, table=frame, data_description=description,
                     generated_at=str(manifest.get("generated_at", "")),
                     synthetic_pledges="SYNTHETIC" in description or bool(basis.fillna(False).any()))


# --------------------------------------------------------------------------- writing
def source_line(portfolio: Portfolio) -> str:
    """The line under the figure: the data and where the values come from."""
    data = portfolio.data_description.split(" Pledges:")[0] or "Data: see manifest.json."
    return f"Source: each country's pillar_scores.csv (landscape report). {data}"


def figure(portfolio: Portfolio) -> RenderedImage:
    """The small multiples (pillar scores per country, one panel per ITU-D region) as a PNG.

    Rendered once per portfolio: the page shows the image the folder keeps.
    """
    if portfolio.image is None:
        import matplotlib.pyplot as plt

        from p2c_research.figures.portfolio import pillar_scores_by_region

        fig = pillar_scores_by_region(portfolio.table, source=source_line(portfolio))
        alt = ("Dot plot of the Access, Adoption and Value creation scores of "
               f"{len(portfolio.table)} countries, one panel per ITU-D region")
        portfolio.image = RenderedImage(figure_png(fig), alt=alt)
        plt.close(fig)
    return portfolio.image


def save(portfolio: Portfolio, out: str | Path) -> dict[str, Path]:
    """Write ``out/portfolio.csv`` and the figure ``out/portfolio_pillar_scores.png``;
    returns file name -> path."""
    out = Path(out)
    csv = write_csv(portfolio.tables.portfolio, out / CSV_NAME)
    png = atomic_write_bytes(out / FIGURE_NAME, portfolio.figures.pillar_scores.png)
    return {CSV_NAME: csv, FIGURE_NAME: png}


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Column:
    """One column of the page's table: its group, header and whether it holds numbers."""

    key: str
    group: str
    header: str
    numeric: bool


def page_columns() -> list[Column]:
    """The columns of the page's table; groups and headers from the one label map."""
    cols = [Column("country", "", label("country"), False),
            Column("status", "", label("report_status"), False)]
    for pillar in SCORED_PILLARS:
        score, pct, _n = pillar_columns(pillar)
        cols += [Column(score, label(pillar), label("score"), True),
                 Column(pct, label(pillar), label("peer_percentile"), True)]
    verdicts = "Verdicts: indicators against what income predicts"
    cols += [Column(c, verdicts, label(c), True) for c in SHOWN_VERDICTS]
    gaps, need = "Priority gaps", label("gap_flag")
    cols += [Column("priorities_thin_support", gaps, label("priorities_thin_support"), True),
             Column("top_gap_priority", gaps, label("top_gap_priority"), False),
             Column("need", need, label("need"), True),
             Column("usd_per_capita", need, label("usd_per_capita"), True),
             Column("gap_flag", need, label("gap_flag"), False),
             Column("data_coverage", "", label("data_coverage"), True)]
    return cols


def _cell(row: pd.Series, col: Column) -> tuple[str, str]:
    """(HTML of the cell's content, sort value) of one cell; text is escaped here."""
    value = row.get(col.key)
    if col.key == "country":
        return (f"{html_text(row['country'])} ({html_text(row['iso3'])})"
                f"<br><small>{html_text(row['itu_region'])}</small>", str(row["country"]))
    if col.key == "priorities_thin_support":
        n = row.get("priorities")
        if pd.isna(value) or pd.isna(n):
            return "n/a", ""
        return f"{int(value)} of {int(n)}", str(int(value))
    if col.key == "data_coverage":
        if pd.isna(value):
            return "n/a", ""
        return (f"{sig(value)}% <small>({int(row['indicators_scored'])} of "
                f"{int(row['indicators_total'])})</small>", repr(float(value)))
    if col.key.endswith("_percentile"):
        n_col = col.key.replace("_percentile", "_peer_n")
        has_value = pd.notna(row.get(col.key.replace("_percentile", "_score")))
        text = percentile_text(value, row.get(n_col), has_value=has_value)
        return html_text(text), repr(float(value)) if pd.notna(value) else ""
    if col.numeric:
        if value is None or pd.isna(value):
            return "n/a", ""
        return sig(value), repr(float(value))
    if value is None or pd.isna(value) or value == "":
        return "n/a", ""
    return html_text(value), str(value)


def _header_rows(cols: list[Column]) -> str:
    """Two header rows: the groups (pillars, verdicts, ...) over the columns that sort."""
    top, k = [], 0
    while k < len(cols):
        span = 1
        while k + span < len(cols) and cols[k + span].group == cols[k].group:
            span += 1
        top.append(f'<th colspan="{span}" class="group">{html_text(cols[k].group)}</th>')
        k += span
    sub = "".join(f'<th scope="col" class="{"num" if c.numeric else "text"}">'
                  f"{html_text(c.header)}</th>" for c in cols)
    return f'<tr class="groups">{"".join(top)}</tr><tr class="sortable">{sub}</tr>'


def table_html(frame: pd.DataFrame) -> str:
    """The sortable table: one row per country, a heading row per ITU-D region, every cell escaped."""
    cols = page_columns()
    body = []
    region = None
    for _, row in frame.iterrows():
        if row["itu_region"] != region:
            region = row["itu_region"]
            n = int((frame["itu_region"] == region).sum())
            body.append(f'<tr class="region"><td colspan="{len(cols)}">{html_text(region)} '
                        f'({n})</td></tr>')
        cells = []
        for c in cols:
            content, sort_value = _cell(row, c)
            klass = "num" if c.numeric else "text"
            if c.key == "status" and row["status"] != "ok":
                klass += " failed"
            cells.append(f'<td class="{klass}" data-v="{html_text(sort_value)}">{content}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="p2c-portfolio"><style>{CSS}</style>'
            f"<p><small>{len(frame)} countries, ordered by ITU-D region, then country. Click a "
            "column header to sort by it; click again to reverse.</small></p>"
            f'<table id="p2c-portfolio-table"><thead>{_header_rows(cols)}</thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<script>{SORT_SCRIPT}</script></div>")


def failures_html(portfolio: Portfolio) -> str:
    failed = portfolio.failed
    if failed.empty:
        return "<p>Every report of every country in this portfolio succeeded.</p>"
    items = "".join(f"<li><strong>{html_text(r.country)} ({html_text(r.iso3)})</strong>, "
                    f"{html_text(r.status)}: {html_text(str(r.error)[:400])}</li>"
                    for r in failed.itertuples())
    return (f"<p class='failed'>{len(failed)} countr{'y' if len(failed) == 1 else 'ies'} with "
            f"failed reports; their rows show only what the reports that succeeded wrote.</p>"
            f"<ul>{items}</ul>")


METHOD = f"""
Where each column comes from (every file under `<ISO3>/tables/`):

- **{label("access_score")}**, **{label("access_percentile")}** and the same for Adoption and
  Value creation: `pillar_scores.csv` (landscape report). The percentile ranks the country
  within its headline peer set (its ITU-D region by default); "n/a" where the score is
  insufficient or too few peers have one.
- **Verdict counts**: `verdicts.csv` (benchmarking report), the number of indicators whose
  value is well below, below, on par with, above or well above what the country's income
  predicts.
- **{label("priorities_thin_support")}**, **{label("top_gap_priority")}**: `pledge_gaps.csv`
  (pledge report), rows of level "priority".
- **{label("need")}**, **{label("usd_per_capita")}**, **{label("gap_flag")}**: `pledge_gaps.csv`,
  the country row (all pillars).
- **{label("data_coverage")}**: `landscape_scores.csv`, the catalog indicators with an in-window
  score, of all the catalog's scored indicators.

`portfolio.csv` has every column, with the field names of the country tables, and the
"no verdict" and "no data" counts.
"""


class PortfolioSections:
    """The sections of the portfolio page, in reading order."""

    def __init__(self, portfolio: Portfolio) -> None:
        self._portfolio = portfolio

    @cached_property
    def header(self) -> Section:
        """What the page shows and on which data (its first cell)."""
        return Section("Portfolio: every country side by side", (self._portfolio.header(),))

    @cached_property
    def table(self) -> Section:
        """Every country side by side, sortable, grouped by ITU-D region."""
        from IPython.display import HTML

        return Section("Countries side by side", (HTML(table_html(self._portfolio.table)),))

    @cached_property
    def figure(self) -> Section:
        """Pillar scores, one panel per ITU-D region."""
        return Section("Pillar scores by ITU-D region", (self._portfolio.figures.pillar_scores,))

    @cached_property
    def failures(self) -> Section:
        """The countries whose reports failed (or a line saying none did)."""
        from IPython.display import HTML

        return Section("Failures", (HTML(failures_html(self._portfolio)),))

    @cached_property
    def method(self) -> Section:
        """Where each column comes from."""
        return Section("Method and sources", (METHOD,))


__all__ = ["VERDICT_COUNT_COLUMNS", "Portfolio", "build", "country_runs", "read_tables", "save",
           "table_html"]
