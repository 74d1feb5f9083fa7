"""The indicator catalog: which indicators feed which pillar, and how they are scaled.

The catalog is the one place where publisher codes (WDI, UN SDG, ITU DataHub)
meet the package's own indicator ids. It is validated on load, so a typo in a
pillar name or a goalpost pair the wrong way round fails at once, not in a report.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from p2c_research.config import RESOURCES_DIR
from p2c_research.errors import CatalogError
from p2c_research.yamlio import parse_yaml

CATALOG_PATH = RESOURCES_DIR / "catalog.yaml"

SCORED_PILLARS: tuple[str, ...] = ("ACCESS", "ADOPTION", "VALUE_CREATION")
PILLAR_LABELS: dict[str, str] = {
    "ACCESS": "Access",
    "ADOPTION": "Adoption",
    "VALUE_CREATION": "Value creation",
    "CONTEXT": "Context",
}
Pillar = Literal["ACCESS", "ADOPTION", "VALUE_CREATION", "CONTEXT"]


class Goalposts(BaseModel):
    """Bounds of the 0-100 scale; values outside them are clipped."""

    model_config = ConfigDict(extra="forbid")
    lower: float
    upper: float
    reason: str = Field(min_length=10)

    @model_validator(mode="after")
    def _ordered(self) -> Goalposts:
        if not self.lower < self.upper:
            raise ValueError(f"goalposts lower ({self.lower}) must be below upper ({self.upper})")
        return self


class UmcTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float
    year: int
    label: str


class SourceCodes(BaseModel):
    """Publisher codes, the preferred first."""

    model_config = ConfigDict(extra="forbid")
    wdi: list[str] = Field(default_factory=list)
    sdg: list[str] = Field(default_factory=list)
    itu: list[str] = Field(default_factory=list)


class Conversion(BaseModel):
    """How one publisher code's values become the indicator's unit (:mod:`p2c_research.units`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["per_population", "per_internet_user", "share_of_monthly_gni_pc",
                    "throughput_mbps"]
    scale: float = Field(1.0, gt=0)
    note: str = Field(min_length=10, description="the conversion in words, for the docs")


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    pillar: Pillar
    sub_pillar: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    unit: str
    higher_is_better: bool
    goalposts: Goalposts
    scaling: Literal["linear", "log"] = "linear"
    bounded_share: bool = False
    umc_target: UmcTarget | None = None
    weight: float = Field(default=1.0, gt=0)
    sources: SourceCodes
    convert: dict[str, Conversion] = Field(default_factory=dict)
    zero_is_missing: bool = False
    key: bool = Field(False, description="a headline indicator: its benchmark verdict may "
                      "become a key finding (core indicators always may)")
    measures: str = Field("", description="why this indicator measures its sub-pillar")

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.scaling == "log" and self.goalposts.lower <= 0:
            raise ValueError("log scaling needs a positive lower goalpost")
        if not (self.sources.wdi or self.sources.sdg or self.sources.itu):
            raise ValueError("at least one source code is required")
        codes = {*self.sources.wdi, *self.sources.sdg, *self.sources.itu}
        unknown = sorted(set(self.convert) - codes)
        if unknown:
            raise ValueError(f"convert names code(s) {unknown} that are not among the sources")
        if self.scored and len(self.measures) < 10:
            raise ValueError("a scored indicator says in `measures` why it measures its "
                             "sub-pillar")
        return self

    @property
    def scored(self) -> bool:
        return self.pillar != "CONTEXT"

    def codes(self, publisher: Literal["wdi", "sdg", "itu"]) -> list[str]:
        """This indicator's codes at ``publisher``, the preferred first."""
        return list(getattr(self.sources, publisher))


class CoreGroup(BaseModel):
    """At least one of ``any_of`` must have a current value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    any_of: list[str] = Field(min_length=1)


class SubPillar(BaseModel):
    """A segment of the wheel: what it measures and which indicators it cannot do without.

    ``core`` lists groups of indicator ids; the sub-pillar is scored only when
    every group has at least one indicator with a current value (and coverage
    passes the threshold). An empty ``core`` needs coverage only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    pillar: Literal["ACCESS", "ADOPTION", "VALUE_CREATION"]
    label: str
    framework: str = Field(min_length=5, description="the P2C Focus Areas Action Framework item")
    core: list[CoreGroup] = Field(default_factory=list)


class IdiComponent(BaseModel):
    """One component of ITU's ICT Development Index 2024 and the catalog id covering it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pillar: str
    component: str
    itu_codes: list[str] = Field(default_factory=list)
    indicator: str | None = None
    note: str = ""


class PillarCore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    core: list[CoreGroup] = Field(default_factory=list)


class Catalog(BaseModel):
    """All indicators, in catalog order, with lookups by id and publisher code."""

    model_config = ConfigDict(extra="forbid")
    version: int
    pillars: dict[Literal["ACCESS", "ADOPTION", "VALUE_CREATION"], PillarCore]
    sub_pillars: list[SubPillar]
    idi_2024: list[IdiComponent] = Field(default_factory=list)
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate indicator ids: {dupes}")
        for pillar in SCORED_PILLARS:
            n = sum(1 for i in self.indicators if i.pillar == pillar)
            if n < 6:
                raise ValueError(f"pillar {pillar} has {n} indicators; at least 6 are required")
        declared = {sp.id: sp for sp in self.sub_pillars}
        for ind in self.scored:
            sp = declared.get(ind.sub_pillar)
            if sp is None:
                raise ValueError(f"indicator {ind.id}: sub-pillar {ind.sub_pillar!r} is not "
                                 f"declared under sub_pillars")
            if sp.pillar != ind.pillar:
                raise ValueError(f"indicator {ind.id}: sub-pillar {sp.id} belongs to "
                                 f"{sp.pillar}, not {ind.pillar}")
        scored_ids = {i.id: i for i in self.scored}
        groups = [(f"sub-pillar {sp.id}", sp.pillar, g) for sp in self.sub_pillars
                  for g in sp.core]
        groups += [(f"pillar {p}", p, g) for p, pc in self.pillars.items() for g in pc.core]
        for comp in self.idi_2024:
            if comp.indicator is not None and comp.indicator not in scored_ids:
                raise ValueError(f"idi_2024: {comp.component!r} names {comp.indicator!r}, "
                                 "which is not a scored indicator")
        for where, pillar, group in groups:
            for ind_id in group.any_of:
                if ind_id not in scored_ids or scored_ids[ind_id].pillar != pillar:
                    raise ValueError(f"{where}: core indicator {ind_id!r} is not a scored "
                                     f"indicator of {pillar}")
        return self

    def sub_pillar(self, sub_pillar_id: str) -> SubPillar:
        for sp in self.sub_pillars:
            if sp.id == sub_pillar_id:
                return sp
        raise KeyError(sub_pillar_id)

    def key_indicators(self) -> set[str]:
        """Indicators whose verdicts may become findings: the core ones and those marked ``key``."""
        return set(self.core_groups()["indicator"]) | {i.id for i in self.scored if i.key}

    def core_groups(self) -> pd.DataFrame:
        """Every core requirement as rows ``level, key, group, indicator``.

        ``level`` is ``pillar`` or ``sub_pillar``; ``group`` labels the any-of
        group (one row per member indicator).
        """
        rows = [("sub_pillar", sp.id, g.label, i) for sp in self.sub_pillars
                for g in sp.core for i in g.any_of]
        rows += [("pillar", p, g.label, i) for p, pc in self.pillars.items()
                 for g in pc.core for i in g.any_of]
        return pd.DataFrame(rows, columns=["level", "key", "group", "indicator"])

    def __getitem__(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)

    def __contains__(self, indicator_id: object) -> bool:
        return any(ind.id == indicator_id for ind in self.indicators)

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @property
    def scored(self) -> list[Indicator]:
        return [i for i in self.indicators if i.scored]

    @property
    def context(self) -> list[Indicator]:
        return [i for i in self.indicators if not i.scored]

    def pillar_of(self, indicator_id: str) -> str:
        return self[indicator_id].pillar

    def code_map(self, publisher: Literal["wdi", "sdg", "itu"]) -> dict[str, str]:
        """Map every publisher code (preferred and alternates) to its catalog id."""
        out: dict[str, str] = {}
        for ind in self.indicators:
            for code in getattr(ind.sources, publisher):
                out[code] = ind.id
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: the flat table used by analyses and docs."""
        rows = []
        for i in self.indicators:
            rows.append(
                {
                    "indicator": i.id,
                    "name": i.name,
                    "pillar": i.pillar,
                    "sub_pillar": i.sub_pillar,
                    "unit": i.unit,
                    "higher_is_better": i.higher_is_better,
                    "lower": i.goalposts.lower,
                    "upper": i.goalposts.upper,
                    "scaling": i.scaling,
                    "bounded_share": i.bounded_share,
                    "weight": i.weight,
                    "umc_target": i.umc_target.value if i.umc_target else float("nan"),
                    "umc_target_year": i.umc_target.year if i.umc_target else pd.NA,
                    "wdi": ";".join(i.sources.wdi),
                    "sdg": ";".join(i.sources.sdg),
                    "itu": ";".join(i.sources.itu),
                }
            )
        return pd.DataFrame(rows)


def parse_catalog(text: str, origin: str = "<string>") -> Catalog:
    """Parse and validate catalog YAML text; errors name the entry and field."""
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{origin}: not valid YAML: {exc}") from exc
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int):
                entry = raw["indicators"][loc[1]]
                ident = entry.get("id", f"#{loc[1]}") if isinstance(entry, dict) else f"#{loc[1]}"
                loc = [f"indicators[{ident}]", *loc[2:]]
            lines.append(f"  {'.'.join(str(p) for p in loc)}: {err['msg']}")
        raise CatalogError(f"{origin}: invalid indicator catalog:\n" + "\n".join(lines)) from exc


@lru_cache(maxsize=4)
def load_catalog(path: Path | None = None) -> Catalog:
    """Load the packaged catalog (or another file), validated."""
    path = path or CATALOG_PATH
    return parse_catalog(Path(path).read_text(encoding="utf-8"), origin=str(path))


def wdi_codes_needed(catalog: Catalog | None = None) -> list[str]:
    """Every WDI code the catalog reads (population among them: conversions divide by it)."""
    catalog = catalog or load_catalog()
    codes = [c for ind in catalog.indicators for c in ind.sources.wdi]
    return list(dict.fromkeys(codes))


def context_panel(rows: pd.DataFrame, catalog: Catalog, source: str) -> pd.DataFrame:
    """The denominators of :mod:`p2c_research.units` (population, Internet users, GNI per
    capita) from publisher rows ``iso3, code, year, value``, as tidy rows."""
    from p2c_research.units import CONTEXT_IDS

    wanted = {i for ids in CONTEXT_IDS.values() for i in ids}
    frames = []
    for ind_id in sorted(wanted & set(catalog.ids)):
        codes = catalog[ind_id].codes("wdi")
        part = rows[rows["code"].isin(codes)]
        if part.empty:
            continue
        rank = part["code"].map({c: k for k, c in enumerate(codes)})
        part = part.assign(_rank=rank).sort_values("_rank", kind="stable")
        part = part.drop_duplicates(["iso3", "year"])
        frames.append(part.assign(indicator=ind_id, source=source + ":" + part["code"]))
    if not frames:
        return pd.DataFrame(columns=["iso3", "indicator", "year", "value", "source"])
    return pd.concat(frames, ignore_index=True)[["iso3", "indicator", "year", "value", "source"]]


def wdi_to_panel(
    raw: pd.DataFrame, source: str, catalog: Catalog | None = None,
    messages: list[str] | None = None,
) -> pd.DataFrame:
    """Turn WDI rows (``iso3, code, year, value``) into tidy catalog rows.

    Maps each WDI code to its catalog id; where an indicator lists several
    codes, the first with a value for a country-year wins. Counts with a
    catalog conversion are divided by population of the same year, taken from
    the same rows (:mod:`p2c_research.units`), so the sample builder and the
    API adapters cannot drift apart.
    """
    from p2c_research.units import to_catalog_values

    catalog = catalog or load_catalog()
    raw = raw[["iso3", "code", "year", "value"]].dropna(subset=["value"])
    raw = raw.assign(source=source + ":" + raw["code"].astype(str))
    context = context_panel(raw, catalog, source)
    return to_catalog_values(raw, "wdi", catalog, context, messages)
