"""The page around every exported report: title, header, links and table of contents.

A reviewer opens ``OUT/index.html``, then a country's reports. Each report
says in its browser tab which country and which report it is, states in a
header the data vintage and the params fingerprint it was made from, links
to the country's other reports and back to the index (relative links, so a
copied or zipped folder works offline), and lists its sections.

The page is decorated once, in the HTML export step
(:func:`p2c_research.runner.notebooks.to_html`), from what the executed
notebook records about itself (papermill's metadata: the notebook's name and
its parameters), so every notebook the runner exports, the country reports
and a page across countries such as ``OUT/portfolio.html``, gets the same
chrome without a hook of its own.

The export also makes the page deterministic: pandas Styler tables carry a
random id (``T_87b74``) and papermill's injected parameters cell a random
cell id; both are replaced by ids that depend only on the page's content.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from p2c_research import countries
from p2c_research.escaping import html_text, relative_href

SITE = "p2c-research"

#: Notebook (file stem) -> the report's name in titles and links, in report order.
#: A notebook missing here is titled from its file name (``05_risk_view`` -> "Risk view").
PAGE_TITLES: dict[str, str] = {
    "01_landscape": "Landscape (360 diagnostic)",
    "02_benchmarking": "Benchmarking",
    "03_pledge_gap_map": "Pledge gap map",
    "04_portfolio": "Portfolio",
}
#: Notebooks whose page is one per country, written as ``OUT/<ISO3>/<stem>.html``.
COUNTRY_PAGES: tuple[str, ...] = ("01_landscape", "02_benchmarking", "03_pledge_gap_map")
#: Pages across countries and where they are written, relative to the output folder.
CROSS_COUNTRY_PAGES: dict[str, str] = {"04_portfolio": "portfolio.html"}

#: The ``class`` of the header line that says when the page was made: the one
#: line that differs between two runs on the same data (tests remove it).
GENERATED_CLASS = "p2c-generated"
#: The id of the table of contents (the "Contents" link at the bottom right jumps there).
CONTENTS_ID = "p2c-contents"

CSS = """
.p2c-chrome{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;
 line-height:1.45;color:#222;background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;
 padding:.7rem 1rem;margin:0 0 1.2rem 0}
.p2c-chrome a{color:#0b5cad;text-decoration:none} .p2c-chrome a:hover{text-decoration:underline}
.p2c-crumbs{margin:0 0 .35rem 0;font-size:15px}
.p2c-crumbs .p2c-here{font-weight:600}
.p2c-crumbs .p2c-sep{color:#888;margin:0 .35rem}
.p2c-meta{margin:.1rem 0;color:#444} .p2c-meta code{font-size:12.5px;background:#eaeef2;
 padding:0 .25rem;border-radius:3px}
.p2c-toc{margin-top:.5rem} .p2c-toc summary{cursor:pointer;font-weight:600}
.p2c-toc ol{margin:.25rem 0 0 0;padding-left:1.4rem;columns:2 22rem;column-gap:2rem}
.p2c-toc ol ol{columns:auto;margin:0;padding-left:1.1rem;font-size:13px}
.p2c-toc li{break-inside:avoid;margin:.05rem 0}
.p2c-top{position:fixed;right:1rem;bottom:1rem;z-index:10;background:#fff;border:1px solid #d8dee4;
 border-radius:4px;padding:.2rem .5rem;font:13px system-ui,sans-serif;color:#0b5cad;
 text-decoration:none;box-shadow:0 1px 3px rgba(0,0,0,.12)}
@media print{.p2c-top{display:none}}
"""


@dataclass(frozen=True)
class PageInfo:
    """What the chrome of one exported page says.

    Attributes:
        notebook: the notebook's file stem (``01_landscape``).
        country: ISO3 code of a per-country page; "" for a page across countries.
        data_vintage: the data the page was made from, in a few words.
        params_fingerprint: hash of the resolved params (as in ``manifest.json``).
        siblings: stems of the country's other pages to link, in report order.
        generated_at: when the page was made ("2026-12-06 20:06 UTC"); "" to leave it out.
    """

    notebook: str
    country: str = ""
    data_vintage: str = ""
    params_fingerprint: str = ""
    siblings: tuple[str, ...] = field(default_factory=tuple)
    generated_at: str = ""

    @property
    def report_title(self) -> str:
        return report_title(self.notebook)

    @property
    def country_name(self) -> str:
        if self.country and countries.is_economy(self.country):
            return countries.iso3_to_name(self.country)
        return self.country

    @property
    def title(self) -> str:
        """The browser title: "Cambodia — Landscape (360 diagnostic) — p2c-research"."""
        parts = [self.country_name] if self.country else []
        return " — ".join([*parts, self.report_title, SITE])

    @property
    def root(self) -> str:
        """The output folder, relative to this page."""
        return "../" if self.country else ""


def report_title(stem: str) -> str:
    """A notebook's report name (:data:`PAGE_TITLES`, else from its file name)."""
    if stem in PAGE_TITLES:
        return PAGE_TITLES[stem]
    words = re.sub(r"^\d+_", "", stem).replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else stem


def page_file(stem: str) -> str:
    """Where a page is written, relative to its own folder (``01_landscape.html``)."""
    return Path(CROSS_COUNTRY_PAGES.get(stem, f"{stem}.html")).name


# --------------------------------------------------------------------------- page info
def page_info(nb: Any, reports: dict[str, str], *, now: datetime | None = None) -> PageInfo | None:
    """The chrome of an executed notebook, from papermill's metadata; None for other notebooks.

    ``reports`` maps each country report's name (as in ``params.output.notebooks``)
    to its notebook's file stem, in report order: the pages the header links.

    papermill records the notebook it ran (``input_path``) and the parameters
    it injected; the country, the params file and the data choice among them
    give the same params fingerprint and data vintage as the manifest.
    """
    meta = nb.get("metadata", {}).get("papermill", {}) if hasattr(nb, "get") else {}
    source = meta.get("input_path") or ""
    if not source:
        return None
    stem = Path(str(source)).stem
    parameters = meta.get("parameters") or {}
    country = str(parameters.get("country") or "").strip().upper()
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    if country and stem not in CROSS_COUNTRY_PAGES:
        vintage, params_fp, siblings = _country_facts(
            country, str(parameters.get("params_file") or ""), str(parameters.get("data") or "auto"),
            reports)
        return PageInfo(notebook=stem, country=country, data_vintage=vintage,
                        params_fingerprint=params_fp, siblings=siblings, generated_at=stamp)
    vintage = ""
    if "data" in parameters:
        vintage = _safe(lambda: _vintage_for_spec(str(parameters.get("data") or "auto")))
    return PageInfo(notebook=stem, data_vintage=vintage, generated_at=stamp)


def _safe(compute) -> str:
    """The header must never fail an export: a fact that cannot be read is left out."""
    try:
        return compute()
    except Exception:  # any failure only drops one line of the header
        return ""


def _country_facts(country: str, params_file: str, data: str,
                   reports: dict[str, str]) -> tuple[str, str, tuple[str, ...]]:
    """(data vintage, params fingerprint, the country's report pages) as the runner sees them."""
    stems = tuple(reports.values())
    try:
        from p2c_research.datasets import selection_for
        from p2c_research.params import load_params

        params = load_params(country, params_file or None)
        selection = selection_for(data, params.data.choice, params.data.itu)
    except Exception:  # the notebook ran, so this only drops header lines
        return "", "", stems
    wanted = {reports[n] for n in params.output.notebooks if n in reports}
    return (_safe(lambda: data_vintage(selection)), params.fingerprint(),
            tuple(s for s in stems if s in wanted))


def _vintage_for_spec(spec: str) -> str:
    from p2c_research.datasets import selection_for

    return data_vintage(selection_for(spec))


def data_vintage(selection: Any) -> str:
    """The data in a few words: which data, when built, and its fingerprint.

    "embedded sample, built 2026-12-06, fingerprint 1a2b3c4d5e6f7a8b". The
    date is the latest ``retrieved_at`` of the panels' provenance sidecars; the
    fingerprint is :meth:`DataSelection.fingerprint` (``manifest.json``'s
    ``data.fingerprint``). Both are kept per version of the files (the
    fingerprint hashes them), so a batch reads them once.
    """
    files = [*selection.panel_paths, selection.pledges_path, selection.geometries_path]
    versions = tuple((str(p), Path(p).stat().st_mtime_ns if Path(p).exists() else 0)
                     for p in files)
    key = (selection.choice, bool(selection.itu), versions)
    if key not in _vintages:
        kind = "embedded sample" if selection.choice == "sample" else "processed data"
        if not selection.itu:
            kind += " without ITU values"
        built = _built_date(selection.panel_paths)
        when = f", built {built}" if built else ""
        _vintages[key] = f"{kind}{when}, fingerprint {selection.fingerprint()}"
    return _vintages[key]


_vintages: dict[tuple, str] = {}


def _built_date(paths: Any) -> str:
    from p2c_research.store import read_provenance

    dates = []
    for path in paths:
        try:
            when = str(read_provenance(path).get("retrieved_at", ""))[:10]
        except Exception:  # a damaged sidecar only drops the date
            when = ""
        if when:
            dates.append(when)
    return max(dates) if dates else ""


# --------------------------------------------------------------------------- decoration
_HEADING = re.compile(r"<h([23])(\s[^>]*)?>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
_ID_ATTR = re.compile(r"""\sid=(["'])(.*?)\1""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_TITLE = re.compile(r"<title>.*?</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Heading:
    """One section heading of a page: its level (2 or 3), anchor id and text (plain)."""

    level: int
    anchor: str
    text: str


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", text, flags=re.UNICODE).strip("-")
    return slug or "section"


def anchor_headings(page: str) -> tuple[str, list[Heading]]:
    """Give every h2/h3 a unique, stable anchor id; returns the page and its headings.

    nbconvert already gives Markdown headings an id made from their text
    (``Files-written``); two headings with the same text would share it, so
    the second becomes ``Files-written-2``. A heading without an id (raw HTML
    output) gets one made the same way. The ids depend only on the text and
    order of the headings, so two runs give the same ids.
    """
    seen: set[str] = set()
    headings: list[Heading] = []

    def rename(match: re.Match[str]) -> str:
        level, attrs, inner = int(match.group(1)), match.group(2) or "", match.group(3)
        text = html.unescape(_TAG.sub("", _ANCHOR_LINK.sub("", inner))).replace("¶", "")
        text = " ".join(text.split())
        if not text:
            return match.group(0)
        found = _ID_ATTR.search(attrs)
        original = html.unescape(found.group(2)) if found else ""
        base = original or _slug(text)
        anchor, n = base, 1
        while anchor in seen:
            n += 1
            anchor = f"{base}-{n}"
        seen.add(anchor)
        headings.append(Heading(level, anchor, text))
        if anchor == original:
            return match.group(0)
        quoted = html_text(anchor)
        attrs = (_ID_ATTR.sub(f' id="{quoted}"', attrs, count=1) if found
                 else f' id="{quoted}"{attrs}')
        if original:
            inner = inner.replace(f'href="#{html_text(original)}"', f'href="#{quoted}"', 1)
        return f"<h{level}{attrs}>{inner}</h{level}>"

    return _HEADING.sub(rename, page), headings


def contents_html(headings: list[Heading]) -> str:
    """An ordered list of the h2 sections, each with its h3 subsections nested."""
    if not headings:
        return ""
    items: list[str] = []
    sub: list[str] = []

    def close_sub() -> None:
        if sub and items:
            items[-1] = items[-1].replace("</li>", f"<ol>{''.join(sub)}</ol></li>")
        elif sub:
            items.extend(sub)
        sub.clear()

    for h in headings:
        link = f'<li><a href="#{html_text(h.anchor)}">{html_text(h.text)}</a></li>'
        if h.level == 2:
            close_sub()
            items.append(link)
        else:
            sub.append(link)
    close_sub()
    return (f'<nav class="p2c-toc" id="{CONTENTS_ID}" aria-label="Contents"><details open>'
            f"<summary>Contents</summary><ol>{''.join(items)}</ol></details></nav>")


def header_html(info: PageInfo, headings: list[Heading]) -> str:
    """The header block: where the page sits among the reports, its data and params, contents."""
    crumbs = [f'<a href="{relative_href(info.root + "index.html")}">All countries</a>']
    if info.country:
        name = html_text(info.country_name)
        crumbs.append(f"<span>{name} ({html_text(info.country)})</span>")
        for stem in info.siblings or (info.notebook,):
            label = html_text(report_title(stem))
            if stem == info.notebook:
                crumbs.append(f'<span class="p2c-here" aria-current="page">{label}</span>')
            else:
                crumbs.append(f'<a href="{relative_href(page_file(stem))}">{label}</a>')
    else:
        crumbs.append(f'<span class="p2c-here" aria-current="page">'
                      f"{html_text(info.report_title)}</span>")
    sep = '<span class="p2c-sep" aria-hidden="true">›</span>'
    meta = []
    if info.data_vintage:
        meta.append(f"Data vintage: <code>{html_text(info.data_vintage)}</code>")
    if info.params_fingerprint:
        meta.append(f"Params fingerprint: <code>{html_text(info.params_fingerprint)}</code>")
    meta.append(f'<a href="{relative_href(info.root + "manifest.json")}">manifest.json</a>')
    generated = (f'\n<p class="p2c-meta {GENERATED_CLASS}">Generated {html_text(info.generated_at)}'
                 "</p>\n" if info.generated_at else "\n")
    return (f'<header class="p2c-chrome">\n<nav class="p2c-crumbs" aria-label="Reports">'
            f"{sep.join(crumbs)}</nav>\n"
            f'<p class="p2c-meta">{" · ".join(meta)}</p>{generated}'
            f"{contents_html(headings)}\n</header>\n")


def decorate(page: str, info: PageInfo) -> str:
    """``page`` (an nbconvert HTML export) with its title, header and table of contents."""
    page, headings = anchor_headings(page)
    page = _TITLE.sub(lambda _: f"<title>{html_text(info.title)}</title>", page, count=1)
    page = page.replace("</head>", f'<style type="text/css">{CSS}</style>\n</head>', 1)
    top = (f'<a class="p2c-top" href="#{CONTENTS_ID}">Contents ↑</a>\n' if headings else "")
    chrome = header_html(info, headings) + top
    return _BODY.sub(lambda m: f"{m.group(0)}\n{chrome}", page, count=1)


# --------------------------------------------------------------------------- determinism
_STYLER_TABLE = re.compile(r'<table id="T_([0-9a-f]{5,32})"')


def stable_ids(page: str) -> str:
    """Replace the random ids of an export by ids that depend only on the page.

    pandas gives each Styler table a random ``uuid`` (``T_87b74``, used by its
    CSS rules and cell ids); the n-th table of the page becomes ``T_p2c<n>``.
    papermill's injected parameters cell gets a random cell id; nbconvert
    writes it as ``id="cell-id=..."`` and it is set to ``injected-parameters``
    before the export (:func:`stable_cell_ids`).
    """
    uuids: list[str] = []
    for found in _STYLER_TABLE.finditer(page):
        if found.group(1) not in uuids:
            uuids.append(found.group(1))
    if not uuids:
        return page
    names = {u: f"p2c{k + 1}" for k, u in enumerate(uuids)}
    pattern = re.compile(r"T_(" + "|".join(map(re.escape, uuids)) + r")(?![0-9a-f])")
    return pattern.sub(lambda m: f"T_{names[m.group(1)]}", page)


def stable_cell_ids(nb: Any) -> None:
    """Give papermill's injected parameters cell a fixed id, in place (nbformat 4.5 cell ids).

    papermill makes a new random id each run; the cell's content is the same
    for the same parameters, so its id may as well be.
    """
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []) and "id" in cell:
            cell["id"] = "injected-parameters"
