"""``OUT/index.html``: the reviewers' landing page, readable offline.

One row per country: its headline peer set and size, pillar scores with the
percentile among those peers, a small wheel, flags (under-performance
from benchmarking, under-pledged from the gap analysis), links to the three
reports, and the failures. Links and images are relative, so the folder can
be zipped, moved and opened from disk.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from p2c_research import countries
from p2c_research.analyses.verdicts import n_flagged
from p2c_research.escaping import html_text, relative_href
from p2c_research.report_io import percentile_text
from p2c_research.runner.manifest import output_lock, read_manifest
from p2c_research.runner.notebooks import NOTEBOOKS, REPORT_TITLES
from p2c_research.runner.page_chrome import CROSS_COUNTRY_PAGES, report_title
from p2c_research.store import atomic_write_text

PILLARS = ("ACCESS", "ADOPTION", "VALUE_CREATION")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{margin-bottom:.2rem} .note{color:#555;max-width:70rem}
table{border-collapse:collapse;margin-top:1rem} th,td{border-bottom:1px solid #ddd;
padding:.4rem .6rem;text-align:left;vertical-align:middle} th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums} .fail{color:#b00020;font-weight:600}
.flag{display:inline-block;background:#fde2e1;color:#8a1c14;border-radius:3px;padding:0 .3rem;
margin:.1rem;font-size:.85em} .ok{color:#1b5e20}
img.wheel{height:220px;width:auto;max-width:300px;object-fit:contain;cursor:zoom-in}
.insufficient{color:#888;font-style:italic}
.portfolio{font-size:1.1em;margin:.8rem 0}
.lightbox{display:none} .lightbox:target{display:flex;position:fixed;inset:0;z-index:10;
background:rgba(0,0,0,.82);align-items:center;justify-content:center}
.lightbox img{max-width:94vw;max-height:94vh;background:#fff;border-radius:4px;cursor:zoom-out}
"""
#: Pages across countries the index links when the batch wrote them (file -> link text).
CROSS_COUNTRY_LINKS: dict[str, str] = {
    page_file: f"{report_title(stem)}: every country of the batch side by side"
    for stem, page_file in CROSS_COUNTRY_PAGES.items()}


def _read_csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None


def _pillar_cells(country_dir: Path) -> list[str]:
    table = _read_csv(country_dir / "tables" / "pillar_scores.csv")
    cells = []
    for pillar in PILLARS:
        if table is None or "pillar" not in table:
            cells.append('<td class="num insufficient">n/a</td>')
            continue
        row = table[table["pillar"] == pillar]
        score = row["score"].iloc[0] if len(row) else float("nan")
        if pd.isna(score):
            cells.append('<td class="num insufficient">insufficient data</td>')
        else:
            cov = row["coverage"].iloc[0] if "coverage" in row else float("nan")
            cov_txt = f"<br><small>coverage {cov:.0%}</small>" if pd.notna(cov) else ""
            pct_txt = ""
            if {"peer_percentile", "peer_n"} <= set(row.columns):
                pct = percentile_text(row["peer_percentile"].iloc[0], row["peer_n"].iloc[0])
                pct_txt = f"<br><small>percentile {html_text(pct)}</small>"
            cells.append(f'<td class="num">{score:.0f}{cov_txt}{pct_txt}</td>')
    return cells


def _headline_peers_cell(country_dir: Path | None) -> str:
    """The headline peer set of a country's reports and its size, from peer_sets.csv."""
    table = _read_csv(country_dir / "tables" / "peer_sets.csv") if country_dir else None
    if table is None or not {"peer_set", "n_economies", "headline"} <= set(table.columns):
        return '<td class="insufficient">n/a</td>'
    headline = table[table["headline"].astype(str).str.lower() == "true"]
    if headline.empty:
        return '<td class="insufficient">none</td>'
    row = headline.iloc[0]
    return (f"<td>{html_text(str(row['peer_set']))}<br>"
            f"<small>n = {int(row['n_economies'])} economies</small></td>")


def _flags(country_dir: Path) -> list[str]:
    flags = []
    verdicts = _read_csv(country_dir / "tables" / "verdicts.csv")
    if verdicts is not None and "verdict" in verdicts:
        n_below = n_flagged(verdicts)
        if n_below:
            flags.append(f"below what its income predicts on {n_below} indicator(s)")
    gaps = _read_csv(country_dir / "tables" / "pledge_gaps.csv")
    if gaps is not None and "flag" in gaps:
        thin = gaps["flag"].astype(str).str.contains("thin|under-pledged|high need", case=False)
        if thin.any():
            synthetic = "pledge_basis" in gaps and gaps["pledge_basis"].astype(str).str.contains(
                "synthetic", case=False).any()
            flags.append(f"under-pledged on {int(thin.sum())} priority(ies)"
                         + (" (illustrative: synthetic pledges)" if synthetic else ""))
    return flags


def _href(path: object) -> str:
    """A manifest path as a link target: relative, escaped; "" for anything else (no link)."""
    try:
        return relative_href(str(path)) if path else ""
    except ValueError:
        return ""


def _wheel_cell(code: str, name: str, country_dir: Path | None) -> str:
    """The country's wheel, legible in the table; a click shows it full size over the page.

    The full-size view is a CSS ``:target`` overlay (no script): the thumbnail
    links to ``#wheel-<ISO3>``, the overlay links back to the table.
    """
    if country_dir is None:
        return ""
    figures = country_dir / "figures"
    thumb = next((f for f in ("wheel_small.png", "wheel.png") if (figures / f).exists()), None)
    if thumb is None:
        return ""
    full = "wheel.png" if (figures / "wheel.png").exists() else thumb
    alt = f"Digital Transformation Wheel of {html_text(name)}"
    target = f"wheel-{html_text(code)}"
    return (f'<a href="#{target}" title="Show the wheel full size"><img class="wheel" alt="{alt}" '
            f'src="{relative_href(f"{code}/figures/{thumb}")}"></a>'
            f'<div class="lightbox" id="{target}"><a href="#countries" title="Close">'
            f'<img loading="lazy" alt="{alt} (full size)" '
            f'src="{relative_href(f"{code}/figures/{full}")}"></a></div>')


def _cross_country_links(out: Path) -> str:
    """Links to the pages across countries (the portfolio) that exist in the folder."""
    links = [f'<p class="portfolio"><a href="{relative_href(page)}">{html_text(text)}</a></p>'
             for page, text in CROSS_COUNTRY_LINKS.items() if (out / page).exists()]
    return "\n".join(links)


def write_index(out: Path) -> Path:
    """Write ``OUT/index.html`` from the manifest and the country tables.

    Under the folder's lock (:func:`~p2c_research.runner.manifest.output_lock`),
    so the page always shows a whole manifest, whichever batch wrote it last.
    """
    with output_lock(out):
        return _write_index(out)


def _write_index(out: Path) -> Path:
    manifest = read_manifest(out)
    entries = manifest.get("outputs", [])
    by_country: dict[str, dict[str, dict]] = {}
    for e in entries:
        by_country.setdefault(e.get("country", "?"), {})[e.get("notebook", "?")] = e
    rows = []
    failures = []
    for code in sorted(by_country):
        nbs = by_country[code]
        is_econ = countries.is_economy(code)
        name = countries.iso3_to_name(code) if is_econ else "unknown code"
        country_dir = out / code if is_econ else None
        links = []
        for nb_name in NOTEBOOKS:
            e = nbs.get(nb_name)
            title = html_text(REPORT_TITLES[nb_name])
            report = _href(e.get("html")) if e else ""
            if e and e.get("status") in ("ok", "skipped") and report:
                links.append(f'<a href="{report}">{title}</a>')
            elif e:
                failures.append((code, nb_name, e.get("error", "")))
                partial = _href(e.get("ipynb"))
                extra = f' (<a href="{partial}">partial notebook</a>)' if partial else ""
                links.append(f'<span class="fail">{title}: failed</span>{extra}')
        wheel = _wheel_cell(code, name, country_dir)
        pillar_cells = _pillar_cells(country_dir) if country_dir is not None else \
            ['<td class="num insufficient">n/a</td>'] * 3
        flag_html = "".join(f'<span class="flag">{html_text(f)}</span>'
                            for f in (_flags(country_dir) if country_dir is not None else []))
        rows.append(
            f"<tr><td><strong>{html_text(code)}</strong><br>{html_text(name)}</td>"
            f"{_headline_peers_cell(country_dir)}"
            f"<td>{wheel}</td>{''.join(pillar_cells)}<td>{flag_html}</td>"
            f"<td>{'<br>'.join(links)}</td></tr>"
        )
    data = manifest.get("data", {})
    fail_html = ""
    if failures:
        items = "".join(f"<li><strong>{html_text(c)}</strong> {html_text(n)}: "
                        f"{html_text(err[:300])}</li>" for c, n, err in failures)
        fail_html = f'<h2 class="fail">Failures ({len(failures)})</h2><ul>{items}</ul>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Country reports — p2c-research</title>
<style>{CSS}</style></head><body>
<h1>p2c-research: country reports</h1>
<p class="note">{html_text(data.get("description", ""))}</p>
<p class="note">Generated {html_text(manifest.get("generated_at", ""))} from commit
{html_text(manifest.get("git_commit", "unknown"))}. Pillar scores are 0-100 against the
catalog goalposts (see each landscape report); "insufficient data" means indicator coverage is
below the threshold. Percentiles rank the country within its headline peer set (by default its ITU-D region;
the World Bank region for an economy that is not an ITU member); "too few peers (n)" means fewer
peers than the minimum have a score. Full provenance: <a href="manifest.json">manifest.json</a>.</p>
{_cross_country_links(out)}
{fail_html}
<table id="countries"><thead><tr><th>Country</th><th>Headline peers</th><th>Wheel</th><th>Access</th><th>Adoption</th>
<th>Value creation</th><th>Flags</th><th>Reports</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
</body></html>
"""
    path = out / "index.html"
    atomic_write_text(path, page)
    return path
