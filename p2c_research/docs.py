"""Generated documentation: ``docs/indicators.md`` from the packaged catalog.

Generated, not hand-written, so the docs cannot drift from the catalog the
analyses use. ``invoke docs.indicators`` rewrites it; a test checks it is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from p2c_research.builders import Builder
from p2c_research.catalog import PILLAR_LABELS, Catalog, load_catalog
from p2c_research.config import docs_dir
from p2c_research.errors import DataError
from p2c_research.store import atomic_write_text


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _target(i) -> str:
    return f"{i.umc_target.value:g} by {i.umc_target.year}" if i.umc_target else ""


def render_indicator_docs(catalog: Catalog | None = None) -> str:
    """The catalog as Markdown: sub-pillars and their core, indicators, conversions, IDI coverage."""
    catalog = catalog or load_catalog()
    lines = [
        "# Indicator catalog",
        "",
        "Generated from `p2c_research/resources/catalog.yaml` by `invoke docs.indicators`; "
        "do not edit by hand.",
        "",
        "ITU has not published the indicator list behind the Digital Transformation Wheel, "
        "so this catalog is p2c-research's own, documented choice. Its sub-pillars follow the "
        "P2C Focus Areas Action Framework (March 2022). Each indicator is scaled 0-100 "
        "between its goalposts (clipped outside them), on log10 where marked, and reversed "
        "where lower is better. Sub-pillar and pillar scores are weighted means of indicator "
        "scores, shown only when their coverage passes the threshold and their core "
        "indicators have values (see docs/methodology.md). Context variables are not scored: "
        "they feed the benchmarking regressions, the unit conversions and per-capita figures.",
        "",
        f"{len(catalog.scored)} scored indicators and {len(catalog.context)} context variables.",
        "",
        "## Sub-pillars and their core",
        "",
        "A pillar or sub-pillar is scored only when each core group has at least one "
        "indicator with a current value.",
        "",
        "| pillar | sub-pillar | P2C framework | indicators | core |",
        "|---|---|---|---|---|",
    ]
    for sp in catalog.sub_pillars:
        members = [i.id for i in catalog.scored if i.sub_pillar == sp.id]
        core = "; ".join(f"{g.label}: any of {', '.join(g.any_of)}" for g in sp.core) or "none"
        lines.append(f"| {PILLAR_LABELS[sp.pillar]} | {_cell(sp.label)} (`{sp.id}`) | "
                     f"{_cell(sp.framework)} | {len(members)} | {_cell(core)} |")
    lines += ["", "Pillar core:", ""]
    for pillar, pc in catalog.pillars.items():
        core = "; ".join(f"{g.label} (any of {', '.join(g.any_of)})" for g in pc.core) or "none"
        lines.append(f"- {PILLAR_LABELS[pillar]}: {_cell(core)}")
    lines += [""]
    for pillar in ("ACCESS", "ADOPTION", "VALUE_CREATION", "CONTEXT"):
        members = [i for i in catalog.indicators if i.pillar == pillar]
        lines += [f"## {PILLAR_LABELS[pillar]} ({len(members)})", "",
                  "| id | name | sub-pillar | unit | direction | goalposts | scale | weight | "
                  "UMC target | WDI | UN SDG | ITU |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for i in members:
            direction = "higher is better" if i.higher_is_better else "lower is better"
            lines.append(
                f"| `{i.id}` | {_cell(i.name)} | {i.sub_pillar} | {_cell(i.unit)} | {direction} | "
                f"{i.goalposts.lower:g} to {i.goalposts.upper:g} | {i.scaling}"
                f"{' (bounded share)' if i.bounded_share else ''} | {i.weight:g} | {_target(i)} | "
                f"{', '.join(i.sources.wdi)} | {', '.join(i.sources.sdg)} | "
                f"{_cell(', '.join(i.sources.itu))} |"
            )
        if pillar != "CONTEXT":
            lines += ["", "What each measures, and why these goalposts:", ""]
            for i in members:
                lines.append(f"- `{i.id}`: {_cell(i.measures)} Goalposts: "
                             f"{_cell(i.goalposts.reason)}"
                             + (f" Target: {_cell(i.umc_target.label)}." if i.umc_target else ""))
        else:
            lines += ["", "Why each is context, not scored:", ""]
            lines += [f"- `{i.id}`: {_cell(i.goalposts.reason)}" for i in members]
        lines.append("")
    conversions = [(i, code, conv) for i in catalog.indicators for code, conv in i.convert.items()]
    lines += ["## Unit conversions", "",
              "Publisher values that are not in the indicator's unit are converted in "
              "`p2c_research/units.py`; the panel's `source` column names the code and the "
              "World Bank denominator of every converted value. Zeros are dropped where the "
              "publisher writes 0 for 'not available' (`zero_is_missing`: "
              + ", ".join(f"`{i.id}`" for i in catalog.indicators if i.zero_is_missing) + ").",
              "", "| indicator | code | method | how |", "|---|---|---|---|"]
    lines += [f"| `{i.id}` | {_cell(code)} | {conv.method} | {_cell(conv.note)} |"
              for i, code, conv in conversions]
    covered = sum(1 for c in catalog.idi_2024 if c.indicator)
    lines += ["", "## ITU ICT Development Index 2024: which components the workbench covers", "",
              f"{covered} of the {len(catalog.idi_2024)} IDI 2024 components map to a catalog "
              "indicator. The IDI's own goalposts and aggregation are not reproduced: the "
              "catalog scores its indicators on its own goalposts.", "",
              "| IDI pillar | component | ITU code | catalog id | note |", "|---|---|---|---|---|"]
    lines += [f"| {_cell(c.pillar)} | {_cell(c.component)} | {_cell(', '.join(c.itu_codes))} | "
              f"{f'`{c.indicator}`' if c.indicator else 'not covered'} | {_cell(c.note)} |"
              for c in catalog.idi_2024]
    lines.append("")
    return "\n".join(lines)


@dataclass
class IndicatorDocsBuilder(Builder[Catalog, str]):
    """docs/indicators.md from the packaged catalog (load -> process -> check -> save)."""

    name: ClassVar[str] = "indicator docs"
    path: Path | None = None

    def load(self) -> Catalog:
        return load_catalog()

    def process(self, loaded: Catalog) -> str:
        return render_indicator_docs(loaded)

    def check(self, result: str) -> list[str]:
        catalog = load_catalog()
        missing = [i.id for i in catalog.indicators if f"`{i.id}`" not in result]
        if missing:
            raise DataError(f"docs/indicators.md would leave out {missing}; "
                            "render_indicator_docs must list every catalog indicator")
        return [f"{len(catalog.indicators)} indicators documented"]

    def save(self, result: str) -> dict[str, Path]:
        return {"indicators": atomic_write_text(self.path or docs_dir() / "indicators.md",
                                                result)}


def write_indicator_docs(path: Path | None = None) -> Path:
    """Write docs/indicators.md (see :class:`IndicatorDocsBuilder`)."""
    return IndicatorDocsBuilder(path).run().paths["indicators"]
