"""Generated documentation: ``docs/indicators.md`` from the packaged catalog.

Generated, not hand-written, so the docs cannot drift from the catalog the
analyses use. ``invoke docs.indicators`` rewrites it; a test checks it is current.
"""

from __future__ import annotations

from pathlib import Path

from p2c_research.catalog import PILLAR_LABELS, Catalog, load_catalog
from p2c_research.config import docs_dir
from p2c_research.store import atomic_write_text


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_indicator_docs(catalog: Catalog | None = None) -> str:
    catalog = catalog or load_catalog()
    lines = [
        "# Indicator catalog",
        "",
        "Generated from `p2c_research/resources/catalog.yaml` by `invoke docs.indicators`; "
        "do not edit by hand.",
        "",
        "ITU has not published the indicator list behind the Digital Transformation Wheel, "
        "so this catalog is p2c-research's own, documented choice. Each indicator is scaled "
        "0-100 between its goalposts (clipped outside them), on log10 where marked, and "
        "reversed where lower is better. Sub-pillar scores are weighted means of indicator "
        "scores; context variables are not scored (they feed the benchmarking regressions "
        "and per-capita figures).",
        "",
        f"{len(catalog.scored)} scored indicators and {len(catalog.context)} context variables.",
        "",
    ]
    for pillar in ("ACCESS", "ADOPTION", "VALUE_CREATION", "CONTEXT"):
        members = [i for i in catalog.indicators if i.pillar == pillar]
        lines += [f"## {PILLAR_LABELS[pillar]} ({len(members)})", "",
                  "| id | name | sub-pillar | unit | direction | goalposts | scale | weight | "
                  "UMC target | WDI | UN SDG | ITU |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for i in members:
            direction = "higher is better" if i.higher_is_better else "lower is better"
            target = (f"{i.umc_target.value:g} by {i.umc_target.year}" if i.umc_target else "")
            unit = i.unit + (" (derived: count / population)" if i.per_capita else "")
            lines.append(
                f"| `{i.id}` | {_cell(i.name)} | {i.sub_pillar} | {_cell(unit)} | {direction} | "
                f"{i.goalposts.lower:g} to {i.goalposts.upper:g} | {i.scaling}"
                f"{' (bounded share)' if i.bounded_share else ''} | {i.weight:g} | {target} | "
                f"{', '.join(i.sources.wdi)} | {', '.join(i.sources.sdg)} | "
                f"{', '.join(i.sources.itu)} |"
            )
        lines += ["", "Why these goalposts:", ""]
        for i in members:
            lines.append(f"- `{i.id}`: {_cell(i.goalposts.reason)}"
                         + (f" Target: {_cell(i.umc_target.label)}." if i.umc_target else ""))
        lines.append("")
    return "\n".join(lines)


def write_indicator_docs(path: Path | None = None) -> Path:
    path = path or docs_dir() / "indicators.md"
    return atomic_write_text(path, render_indicator_docs())
