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


class PerCapita(BaseModel):
    """The publisher reports a count; the catalog value is count / population * scale."""

    model_config = ConfigDict(extra="forbid")
    scale: float = Field(gt=0)


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
    per_capita: PerCapita | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.scaling == "log" and self.goalposts.lower <= 0:
            raise ValueError("log scaling needs a positive lower goalpost")
        if not (self.sources.wdi or self.sources.sdg or self.sources.itu):
            raise ValueError("at least one source code is required")
        if self.per_capita and not self.sources.wdi:
            raise ValueError("per_capita applies to a WDI count")
        return self

    @property
    def scored(self) -> bool:
        return self.pillar != "CONTEXT"


class Catalog(BaseModel):
    """All indicators, in catalog order, with lookups by id and publisher code."""

    model_config = ConfigDict(extra="forbid")
    version: int
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
        return self

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
    """Every WDI code the catalog reads, plus population for per-capita indicators."""
    catalog = catalog or load_catalog()
    codes = [c for ind in catalog.indicators for c in ind.sources.wdi]
    if any(ind.per_capita for ind in catalog.indicators) and "SP.POP.TOTL" not in codes:
        codes.append("SP.POP.TOTL")
    return list(dict.fromkeys(codes))


def wdi_to_panel(
    raw: pd.DataFrame, source: str, catalog: Catalog | None = None
) -> pd.DataFrame:
    """Turn WDI rows (``iso3, code, year, value``) into tidy catalog rows.

    Maps each WDI code to its catalog id; where an indicator lists several
    codes, the first with a value for a country-year wins. Counts marked
    ``per_capita`` are divided by population of the same year. This is the one
    place the conversion happens, so the sample builder and the API adapters
    cannot drift apart.
    """
    catalog = catalog or load_catalog()
    raw = raw[["iso3", "code", "year", "value"]].dropna(subset=["value"])
    pop = raw[raw["code"] == "SP.POP.TOTL"].set_index(["iso3", "year"])["value"]
    frames = []
    for ind in catalog.indicators:
        if not ind.sources.wdi:
            continue
        rank = {code: k for k, code in enumerate(ind.sources.wdi)}
        part = raw[raw["code"].isin(rank)].copy()
        if part.empty:
            continue
        part["rank"] = part["code"].map(rank)
        part = part.sort_values("rank").drop_duplicates(["iso3", "year"], keep="first")
        if ind.per_capita:
            denom = pd.Series(
                pop.reindex(pd.MultiIndex.from_frame(part[["iso3", "year"]])).to_numpy(),
                index=part.index,
            )
            part["value"] = part["value"] / denom * ind.per_capita.scale
            part = part.dropna(subset=["value"])
        part["indicator"] = ind.id
        part["source"] = source + ":" + part["code"]
        frames.append(part[["iso3", "indicator", "year", "value", "source"]])
    if not frames:
        return pd.DataFrame(columns=["iso3", "indicator", "year", "value", "source"])
    return pd.concat(frames, ignore_index=True)
