"""Per-country parameters: ``params/defaults.yaml`` merged with ``params/<ISO3>.yaml``.

The country file overrides the defaults key by key (lists are replaced, not
appended). The merged result is validated with pydantic. Errors are written for
the analyst who edits the YAML: they name the file, the key path and the fix
(the closest valid key for a typo, the expected type or range for a bad value).
Nothing is written anywhere before parameters validate.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from p2c_research import countries
from p2c_research.catalog import SCORED_PILLARS, load_catalog
from p2c_research.config import params_dir
from p2c_research.errors import ParamsError, UnknownCountryError
from p2c_research.yamlio import parse_yaml

DEFAULTS_NAME = "defaults.yaml"
#: Largest params file read (bytes). The shipped files are under 10 kB; a file of
#: tens of MB takes seconds and gigabytes to parse, and every notebook reads it.
MAX_PARAMS_BYTES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class YearWindow(_Strict):
    """Years searched for each indicator's latest value (inclusive)."""

    start: int = Field(ge=1990, le=2100)
    end: int = Field(ge=1990, le=2100)

    @model_validator(mode="after")
    def _ordered(self) -> YearWindow:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) must not be after end ({self.end})")
        return self


class ExplicitPeers(_Strict):
    """A named peer list, e.g. ASEAN for Cambodia (an extra set; the headline is the ITU-D region)."""

    label: str = Field(min_length=1)
    members: list[str] = Field(min_length=1)

    @field_validator("members")
    @classmethod
    def _codes(cls, members: list[str]) -> list[str]:
        return [countries.validate_iso3(m) for m in members]


class PeerGroups(_Strict):
    """Which peer groups the analyses compare the country with."""

    itu_region: bool = Field(
        True, description="the ITU-D region, every report's headline peer set; a country that "
        "is not an ITU member falls back to its World Bank region")
    income_group: bool = True
    region: bool = True
    un_groups: bool = Field(True, description="LDC / LLDC / SIDS groups the country belongs to")
    explicit: list[ExplicitPeers] = Field(default_factory=list)


class Priority(_Strict):
    """A strategic priority of the national digital strategy."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    pillars: list[Literal["ACCESS", "ADOPTION", "VALUE_CREATION"]] = Field(min_length=1)
    sub_pillars: list[str] = Field(default_factory=list)
    indicators: list[str] | None = Field(
        None, description="catalog ids that measure this priority; default: those of its "
        "sub-pillars. An empty list says no catalog indicator measures it (say why in "
        "`measurement_note`)")
    measurement_note: str = ""
    weight: float = Field(1.0, gt=0, le=10)
    keywords: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("indicators")
    @classmethod
    def _known_indicators(cls, ids: list[str] | None) -> list[str] | None:
        if ids is None:
            return None
        scored = [i.id for i in load_catalog().scored]
        bad = [i for i in ids if i not in scored]
        if bad:
            hints = [f"{b} (did you mean {', '.join(difflib.get_close_matches(b, scored, n=2))}?)"
                     if difflib.get_close_matches(b, scored, n=1) else b for b in bad]
            raise ValueError(f"unknown or unscored indicator(s) {', '.join(hints)}; "
                             "see docs/indicators.md")
        return ids

    @model_validator(mode="after")
    def _explained(self) -> Priority:
        if self.indicators == [] and len(self.measurement_note) < 10:
            raise ValueError(f"priority {self.id!r} lists no indicators: say why in "
                             "`measurement_note` (e.g. which open data would measure it)")
        return self

    @field_validator("sub_pillars")
    @classmethod
    def _known_sub_pillars(cls, subs: list[str]) -> list[str]:
        known = {i.sub_pillar for i in load_catalog().scored}
        bad = [s for s in subs if s not in known]
        if bad:
            raise ValueError(f"unknown sub-pillar(s) {bad}; expected one of {sorted(known)}")
        return subs


class Priorities(_Strict):
    provisional: bool = False
    source: str = Field(min_length=1)
    items: list[Priority] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Priorities:
        ids = [p.id for p in self.items]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate priority ids {dupes}")
        return self


class NationalTarget(_Strict):
    indicator: str
    value: float
    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=1)
    provisional: bool = False

    @field_validator("indicator")
    @classmethod
    def _known_indicator(cls, ind: str) -> str:
        cat = load_catalog()
        if ind not in cat:
            close = difflib.get_close_matches(ind, cat.ids, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown indicator '{ind}'{hint} (see docs/indicators.md)")
        return ind


class DataOptions(_Strict):
    choice: Literal["auto", "sample", "processed"] = "auto"
    itu: bool = Field(True, description="use ITU DataHub values (CC BY-NC-SA 3.0 IGO, "
                      "non-commercial); false gives a CC BY-only build")


class AnalysisOptions(_Strict):
    coverage_threshold: float = Field(0.5, ge=0, le=1)
    peer_min_n: int = Field(15, ge=3, le=200)
    prediction_interval: float = Field(0.90, gt=0.5, lt=1)
    frontier_quantile: float = Field(0.90, gt=0.5, lt=1)
    allocation_rule: Literal["equal", "population", "need"] = "population"


class OutputOptions(_Strict):
    figure_dpi: int = Field(110, ge=50, le=600)
    notebooks: list[Literal["landscape", "benchmarking", "pledge_gap_map"]] = Field(
        default_factory=lambda: ["landscape", "benchmarking", "pledge_gap_map"], min_length=1
    )
    html: bool = True


class CountryParams(_Strict):
    """The validated, merged parameters of one country analysis."""

    country: str
    reference_year: int = Field(ge=2000, le=2100)
    year_window: YearWindow
    peer_groups: PeerGroups = Field(default_factory=PeerGroups)
    strategic_priorities: Priorities
    national_targets: list[NationalTarget] = Field(default_factory=list)
    data: DataOptions = Field(default_factory=DataOptions)
    analysis: AnalysisOptions = Field(default_factory=AnalysisOptions)
    output: OutputOptions = Field(default_factory=OutputOptions)

    @field_validator("country")
    @classmethod
    def _iso3(cls, code: str) -> str:
        return countries.validate_iso3(code)

    @model_validator(mode="after")
    def _window_covers_reference(self) -> CountryParams:
        if not self.year_window.start <= self.reference_year <= self.year_window.end + 1:
            raise ValueError(
                f"reference_year {self.reference_year} lies outside year_window "
                f"{self.year_window.start}-{self.year_window.end}"
            )
        return self

    def fingerprint(self) -> str:
        """A short hash of the resolved params (used by ``--resume``)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def country_name(self) -> str:
        return countries.iso3_to_name(self.country)


# --------------------------------------------------------------------------- loading
def _read_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ParamsError(f"{path}: is a folder, not a params file; pass a YAML file such as "
                          "params/KHM.yaml")
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ParamsError(f"{path}: {size:,} bytes, over the {MAX_PARAMS_BYTES:,}-byte limit "
                              "for a params file; a params file holds settings, not data")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ParamsError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it "
                          "as UTF-8") from exc
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(
            f"{path}: not valid YAML{where}: {problem}. Fix the indentation or quoting "
            "there (values with ':' or '#' need quotes)."
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: dicts recursively, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``Model``, ``list[Model]``, ``Model | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _unknown_keys(data: Any, model: type[BaseModel], path: str, path_file: Path) -> None:
    """Raise on the first key that the model does not know, with the closest valid key."""
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            valid = ", ".join(fields)
            raise ParamsError(
                f"{path_file}: unknown key '{key_path}'{hint} (valid keys here: {valid})"
            )
        sub = _model_of(fields[key].annotation)
        if sub is None:
            continue
        if isinstance(value, list):
            for k, item in enumerate(value):
                _unknown_keys(item, sub, f"{key_path}[{k}]", path_file)
        else:
            _unknown_keys(value, sub, key_path, path_file)


def _has_path(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False
    return True


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def default_params_path(directory: Path | None = None) -> Path:
    return (directory or params_dir()) / DEFAULTS_NAME


def country_params_path(iso3: str, directory: Path | None = None) -> Path:
    """Path of a country's YAML; the code is validated first, so no path traversal."""
    code = countries.validate_iso3(iso3)
    return (directory or params_dir()) / f"{code}.yaml"


def load_params(
    iso3: str,
    params_file: Path | str | None = None,
    *,
    directory: Path | None = None,
) -> CountryParams:
    """Load, merge and validate the parameters of one country.

    Args:
        iso3: the country code; validated against the economy list first.
        params_file: a YAML to use instead of ``params/<ISO3>.yaml``.
        directory: the params folder (default: the project's ``params/``).

    A country without its own YAML runs on the defaults, whose generic
    priorities (one per pillar) are marked provisional.
    """
    code = countries.validate_iso3(iso3)
    if params_file is not None:
        country_path: Path | None = Path(params_file)
        if not country_path.exists():
            raise ParamsError(f"{country_path}: params file not found")
    else:
        candidate = country_params_path(code, directory)
        country_path = candidate if candidate.exists() else None
    return _merge_validate(code, default_params_path(directory), country_path)


def _merge_validate(code: str, defaults_path: Path, country_path: Path | None) -> CountryParams:
    defaults = _read_yaml(defaults_path)
    _unknown_keys(defaults, CountryParams, "", defaults_path)
    override = _read_yaml(country_path) if country_path else {}
    if country_path:
        _unknown_keys(override, CountryParams, "", country_path)
        declared = override.get("country")
        if declared is not None and str(declared).strip().upper() != code:
            raise ParamsError(
                f"{country_path}: key 'country' is '{declared}' but the run is for {code}; "
                "use the file of that country or fix the key"
            )
    merged = deep_merge(defaults, override)
    merged["country"] = code
    try:
        return CountryParams.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            origin = country_path if country_path and _has_path(override, loc) else defaults_path
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            got_txt = f" (got {got!r})" if not isinstance(got, dict | list) else ""
            lines.append(f"{origin}: key '{_format_loc(loc)}': {msg}{got_txt}")
        text = lines[0] if len(lines) == 1 else "\n  " + "\n  ".join(lines)
        raise ParamsError("invalid parameters: " + text) from exc


def shipped_param_files(directory: Path | None = None) -> list[Path]:
    """Every country YAML in the params folder (not the defaults)."""
    folder = directory or params_dir()
    return sorted(p for p in folder.glob("*.yaml") if p.name != DEFAULTS_NAME)


def check_all(directory: Path | None = None) -> list[tuple[str, str]]:
    """Validate every YAML in the params folder; returns (file, error) for failures."""
    folder = directory or params_dir()
    failures: list[tuple[str, str]] = []
    try:
        # The defaults alone must make a valid run (countries without a YAML use them).
        _merge_validate("KHM", default_params_path(folder), None)
    except ParamsError as exc:
        failures.append((str(default_params_path(folder)), str(exc)))
    for path in shipped_param_files(folder):
        try:
            load_params(path.stem, params_file=path, directory=folder)
        except (ParamsError, UnknownCountryError) as exc:
            failures.append((str(path), str(exc)))
    return failures


def itu_region_label(region: str) -> str:
    """The label of an ITU-D region peer set, e.g. "Asia & Pacific (ITU-D region)"."""
    return f"{region} (ITU-D region)"


def wb_region_label(region: str) -> str:
    """The label of a World Bank region peer set, e.g. "Sub-Saharan Africa (World Bank region)"."""
    return f"{region} (World Bank region)"


def fallback_region_label(region: str, country_name: str) -> str:
    """The label of the World Bank region standing in for a non-member's ITU-D region.

    The reason is in the label itself, so every table and figure that names
    the peer set also says why it is not an ITU-D region.
    """
    return f"{region} (World Bank region; {country_name} is not an ITU member)"


@dataclass(frozen=True)
class HeadlinePeers:
    """The one peer set every report shows first (tables, wheel, scatters, regional map).

    Attributes:
        label: its key in :func:`resolve_peer_sets` (None when the country has no peer set).
        members: the peers, country excluded.
        basis: ``itu_region``, ``wb_region_fallback`` (not an ITU member),
            ``explicit``, ``wb_region``, ``other`` or ``none``.
        region_name: the region alone, for map titles ("Arab States (ITU-D region)").
        sentence: what a report says about it, in one or two sentences.
    """

    label: str | None
    members: list[str]
    basis: str
    region_name: str
    sentence: str

    @property
    def n(self) -> int:
        """Economies in the set, the country excluded."""
        return len(self.members)


def resolve_peer_sets(params: CountryParams) -> dict[str, list[str]]:
    """The peer sets of a country, each labelled for reports, the country excluded.

    The headline set (:func:`headline_peers`) comes first: the ITU-D region
    when ``peer_groups.itu_region`` is on, or, for an economy that is not an
    ITU member, its World Bank region labelled with that reason. Then the
    income group, the World Bank region, the UN groups and the explicit lists.
    Labels name the classification, so a report says which peer set it used
    (World Bank regions differ from ITU-D regions).
    """
    ref = countries.load_countries().set_index("iso3")
    row = ref.loc[params.country]
    sets: dict[str, list[str]] = {}
    pg = params.peer_groups
    wb_region = row["wb_region"] if isinstance(row["wb_region"], str) and row["wb_region"] else ""
    itu_region = countries.itu_region(params.country) if pg.itu_region else None
    if itu_region is not None:
        sets[itu_region_label(itu_region)] = countries.itu_region_members(itu_region)
    elif pg.itu_region and wb_region:
        label = fallback_region_label(wb_region, params.country_name)
        sets[label] = countries.group_members(wb_region)
    if pg.income_group and isinstance(row["income_group"], str) and row["income_group"]:
        sets[f"{row['income_group']} (World Bank)"] = countries.group_members(row["income_group"])
    if pg.region and wb_region and not (pg.itu_region and itu_region is None):
        sets[wb_region_label(wb_region)] = countries.group_members(wb_region)
    if pg.un_groups:
        for flag, group in (("ldc", "LDC"), ("lldc", "LLDC"), ("sids", "SIDS")):
            if bool(row[flag]):
                sets[f"{group} (UN)"] = countries.group_members(group)
    for peers in pg.explicit:
        sets[peers.label] = list(peers.members)
    return {
        label: sorted(m for m in members if m != params.country)
        for label, members in sets.items()
    }


def headline_peers(params: CountryParams,
                   peer_sets: dict[str, list[str]] | None = None) -> HeadlinePeers:
    """The headline peer set of a country: the one choice every report uses.

    With ``peer_groups.itu_region`` on (the default) it is the ITU-D region,
    the grouping ITU benchmarks by and P2C picks its partners from; an
    economy that is not an ITU member gets its World Bank region, and the
    label and sentence say so. With it off: the first explicit list, else the
    World Bank region, else the first set. ``peer_sets`` defaults to
    :func:`resolve_peer_sets`.
    """
    sets = resolve_peer_sets(params) if peer_sets is None else peer_sets
    name = params.country_name
    pg = params.peer_groups
    region = countries.itu_region(params.country)
    wb_region = countries.load_countries().set_index("iso3").at[params.country, "wb_region"]
    wb_region = wb_region if isinstance(wb_region, str) else ""

    def made(label: str, basis: str, region_name: str, described: str, why: str = ""
             ) -> HeadlinePeers:
        members = list(sets[label])
        sentence = f"Headline peers: {described}, {len(members)} economies besides {name}.{why}"
        return HeadlinePeers(label, members, basis, region_name, sentence)

    if pg.itu_region and region is not None and sets.get(itu_region_label(region)):
        label = itu_region_label(region)
        return made(label, "itu_region", label, label)
    fallback = fallback_region_label(wb_region, name)
    if pg.itu_region and wb_region and sets.get(fallback):
        return made(fallback, "wb_region_fallback", wb_region_label(wb_region),
                    wb_region_label(wb_region),
                    f" {name} is not an ITU member, so it has no ITU-D region; it is "
                    "compared with its World Bank region instead.")
    explicit = [e.label for e in pg.explicit if sets.get(e.label)]
    if explicit:
        return made(explicit[0], "explicit", explicit[0], f"{explicit[0]} (named in params)")
    if wb_region and sets.get(wb_region_label(wb_region)):
        label = wb_region_label(wb_region)
        return made(label, "wb_region", label, label)
    for label, members in sets.items():
        if members:
            return made(label, "other", label, label)
    return HeadlinePeers(None, [], "none", "", f"{name} has no peer set in its params.")


def generic_priority_pillars() -> tuple[str, ...]:
    return SCORED_PILLARS
