"""Build the committed ITU-D region list (``resources/itu_regions.csv``) and its provenance.

ITU-D regions are the standard peer set of every report, so the package ships
each ITU member's region as a resource, like the country reference; it never
reads ``../shared`` or the network at run time. This builder makes the
resource from one of two inputs:

- a CSV ``iso3,name,itu_region`` (the snapshot ``../shared/real/itu_regions.csv``):
  ``invoke data.regions --source ../shared/real/itu_regions.csv``;
- ITU DataHub's ``v2/country/all``, the authoritative list:
  ``invoke data.regions --datahub [--base-url URL]``.

Each build is a :class:`~p2c_research.builders.Builder` (load -> process ->
check -> save). The checks run on
the whole list before anything is written, and the list and its sidecar
(``itu_regions.provenance.json``) are written to temporary files and renamed,
so a failed build leaves the previous resource as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from p2c_research import countries
from p2c_research.builders import Builder
from p2c_research.config import RESOURCES_DIR, project_root
from p2c_research.errors import DataError
from p2c_research.sources import itu
from p2c_research.sources.http import HttpClient
from p2c_research.store import atomic_write_text, neutralise_formulas, sha256_bytes

PROVENANCE_FILE = "itu_regions.provenance.json"
#: Fewest members a build accepts: ITU has 194 member states, so a list much
#: shorter than that is a truncated answer or a wrong file, and must not
#: replace the shipped one. Tests on a dozen recorded economies lower it.
MIN_MEMBERS = 180
#: Economies on the CIS/Europe line. The snapshot puts nine states in CIS and
#: GEO, MDA and UKR in Europe; its source could not confirm ITU's own split.
CIS_EUROPE_LINE = ("ARM", "AZE", "BLR", "GEO", "KAZ", "KGZ", "MDA", "RUS", "TJK", "TKM",
                   "UKR", "UZB")
CSV_TRUST_NOTE = (
    "Certain for the four P2C partners (KHM Asia & Pacific, MDG Africa, DOM "
    "Americas, MRT Arab States). Unverified on the CIS/Europe line: this list "
    "puts GEO, MDA and UKR in Europe and nine states in CIS, which its source "
    "could not confirm. ITU's Africa region excludes the Arab League members "
    "of North and East Africa (DZA, EGY, LBY, MAR, TUN, SDN, SOM, DJI, COM are "
    "Arab States). The authoritative list is ITU DataHub v2/country/all: "
    "refresh with `invoke data.regions --datahub`. The list has one entry "
    "more than ITU's 194 member states: PSE (West Bank and Gaza; Palestine "
    "has observer status at ITU), in Arab States."
)
LICENCE = ("Facts (which country is in which ITU-D region), not a work; no licence is "
           "needed. Cite ITU-D's regional classification.")

#: What is known of the snapshot ``../shared/real/itu_regions.csv``, by its sha256
#: (its SOURCES.md). Another file gets no origin beyond its name and hash.
KNOWN_CSV_SOURCES: dict[str, dict[str, str]] = {
    "3e664f19463f241d46c7348fb4ffa1b7ad3446c6f75a78589326b388700aff88": {
        "origin": "FNS-Division/govstack_map, commit 68ee4cf41f88c0a65e412fc9d3d4993b5df34878, "
                  "src/data/administrations.json (regionModel 'itu-d-six-regions'): ITU's "
                  "list of member administrations mapped to the six ITU-D regions, citing "
                  "ITU-D's statistics 'regions' definitions page",
        "names": "World Bank spelling of the project's countries.csv",
        "upstream_licence": "the repository states none; region membership is a fact",
    },
}


@dataclass
class RegionsBuild:
    """What a build wrote, for the command line and tests."""

    regions: pd.DataFrame
    provenance: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Counts per region, then the notes (changes, members that are not economies)."""
        counts = self.regions["itu_region"].value_counts()
        per = ", ".join(f"{r} {int(counts.get(r, 0))}" for r in countries.ITU_REGIONS)
        where = self.paths.get("regions", "")
        lines = [f"{len(self.regions)} ITU members written to {where} ({per}); "
                 f"trust: {self.provenance['trust']['level']}"]
        lines += [f"  note: {m}" for m in self.messages]
        return "\n".join(lines)


# --------------------------------------------------------------------------- load
def load_csv(path: Path | str) -> pd.DataFrame:
    """Read a region CSV ``iso3,name,itu_region`` as strings.

    Raises:
        DataError: the file is missing or its columns are not those three.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass --source the ITU-D region CSV "
                        "(iso3,name,itu_region), e.g. ../shared/real/itu_regions.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in countries.ITU_REGION_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected "
                        f"{','.join(countries.ITU_REGION_COLUMNS)}")
    return frame[countries.ITU_REGION_COLUMNS]


# --------------------------------------------------------------------------- process
def process(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim, upper-case the codes, apply ITU's code fixes (KSO -> XKX), sort by code.

    Names become the World Bank's short names where the code is an economy, so
    a list from the DataHub ("Dominican Rep.") reads like the country
    reference; other members (VAT) keep the name they came with.
    """
    out = pd.DataFrame({column: frame[column].astype(str).str.strip()
                        for column in countries.ITU_REGION_COLUMNS})
    out["iso3"] = out["iso3"].str.upper().replace(itu.ITU_ISO_FIXES)
    out["name"] = [countries.iso3_to_name(code) if countries.is_economy(code) else name
                   for code, name in zip(out["iso3"], out["name"], strict=True)]
    return out.sort_values("iso3").reset_index(drop=True)


# --------------------------------------------------------------------------- check
def sanity_check(regions: pd.DataFrame, *, min_members: int = MIN_MEMBERS) -> list[str]:
    """Refuse a list that is wrong; return notes on what is unusual but kept.

    Raises DataError on a code that is not three letters, a duplicate, a
    region outside the six, a region with no member, fewer than
    ``min_members`` rows, or a P2C partner outside its certain region
    (``countries.PARTNER_ITU_REGIONS``). Members that are not World Bank
    economies (VAT) are kept and named in the notes, never dropped silently.
    """
    problems = []
    bad_codes = sorted(set(regions.loc[~regions["iso3"].str.fullmatch(r"[A-Z]{3}"), "iso3"]))
    if bad_codes:
        problems.append(f"codes that are not ISO3: {bad_codes}")
    dupes = sorted(set(regions.loc[regions["iso3"].duplicated(), "iso3"]))
    if dupes:
        problems.append(f"duplicate codes: {dupes}")
    unknown = regions.loc[~regions["itu_region"].isin(countries.ITU_REGIONS)]
    if not unknown.empty:
        rows = ", ".join(f"{r.iso3} {r.itu_region!r}" for r in unknown.head(10).itertuples())
        problems.append(f"regions outside the six ITU-D regions ({rows}); expected one of "
                        f"{', '.join(countries.ITU_REGIONS)}")
    empty = [r for r in countries.ITU_REGIONS if r not in set(regions["itu_region"])]
    if empty:
        problems.append(f"no member in {', '.join(empty)}")
    if len(regions) < min_members:
        problems.append(f"only {len(regions)} members, fewer than {min_members} (ITU has 194 "
                        "member states): a truncated list must not replace the shipped one")
    given = dict(zip(regions["iso3"], regions["itu_region"], strict=True))
    wrong = [f"{iso3} is {given.get(iso3, 'missing')!r}, not {region!r}"
             for iso3, region in countries.PARTNER_ITU_REGIONS.items()
             if given.get(iso3) != region]
    if wrong:
        problems.append("P2C partners outside their known ITU-D region: " + "; ".join(wrong))
    if problems:
        raise DataError("the ITU-D region list is not written: " + "; ".join(problems))
    not_economies = sorted(c for c in regions["iso3"] if not countries.is_economy(c))
    notes = []
    if not_economies:
        notes.append("members that are not World Bank economies (kept in the list, left out "
                      f"of peer sets): {', '.join(not_economies)}")
    return notes


def changes(old: pd.DataFrame | None, new: pd.DataFrame) -> list[str]:
    """Members added, removed or moved between two lists, as readable lines."""
    if old is None or old.empty:
        return []
    before = dict(zip(old["iso3"], old["itu_region"], strict=True))
    after = dict(zip(new["iso3"], new["itu_region"], strict=True))
    lines = [f"{c}: {before[c]} -> {after[c]}" for c in sorted(set(before) & set(after))
             if before[c] != after[c]]
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added:
        lines.append(f"added: {', '.join(added)}")
    if removed:
        lines.append(f"removed: {', '.join(removed)}")
    return lines


def _previous(out_dir: Path) -> pd.DataFrame | None:
    path = out_dir / countries.ITU_REGIONS_FILE
    if not path.is_file():
        return None
    try:
        return process(load_csv(path))
    except (DataError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- save
def _csv_text(regions: pd.DataFrame) -> str:
    # region names come from DataHub or a CSV: spreadsheet formulas made inert (OWASP)
    return neutralise_formulas(regions).to_csv(index=False, lineterminator="\n")


def save(regions: pd.DataFrame, provenance: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write the list, then its sidecar, each atomically (temporary file, then rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = atomic_write_text(out_dir / countries.ITU_REGIONS_FILE, _csv_text(regions))
    prov_path = atomic_write_text(out_dir / PROVENANCE_FILE,
                                  json.dumps(provenance, indent=2, ensure_ascii=False) + "\n")
    return {"regions": csv_path, "provenance": prov_path}


def _counts(regions: pd.DataFrame, non_members: list[str]) -> dict[str, Any]:
    counts = regions["itu_region"].value_counts()
    return {
        "members": len(regions),
        "by_region": {r: int(counts.get(r, 0)) for r in countries.ITU_REGIONS},
        "not_world_bank_economies": sorted(c for c in regions["iso3"]
                                           if not countries.is_economy(c)),
        "world_bank_economies_not_members": non_members,
    }


def _wb_non_members(regions: pd.DataFrame) -> list[str]:
    members = set(regions["iso3"])
    return sorted(set(countries.load_countries()["iso3"]) - members)


def _columns_doc() -> dict[str, str]:
    return {
        "iso3": "ISO 3166 alpha-3 code (World Bank code for economies; XKX for Kosovo)",
        "name": "short name of the member",
        "itu_region": "ITU-D region: " + ", ".join(countries.ITU_REGIONS),
    }


# --------------------------------------------------------------------------- builds
def _shown_path(source: Path) -> str:
    """The source as the provenance names it: relative to the project (``../shared/real/...``)
    when it sits beside it, else its file name, so the record holds no machine's own paths."""
    try:
        shown = Path(os.path.relpath(source.resolve(), project_root()))
    except ValueError:  # another drive (Windows)
        return source.name
    return shown.as_posix() if shown.parts[:2].count("..") <= 1 else source.name


@dataclass(frozen=True)
class RegionsInput:
    """A region list as read, what is known of where it came from, and the list it replaces."""

    frame: pd.DataFrame
    source: dict[str, Any]
    previous: pd.DataFrame | None
    trust: dict[str, Any]
    builder: str
    non_members_of_source: list[str] = field(default_factory=list)


@dataclass
class _RegionsBuilder(Builder[RegionsInput, RegionsBuild]):
    """load (subclass) -> process -> check -> save, shared by the CSV and DataHub builds."""

    name: ClassVar[str] = "ITU-D regions"
    out_dir: Path = RESOURCES_DIR
    min_members: int = MIN_MEMBERS

    def process(self, loaded: RegionsInput) -> RegionsBuild:
        regions = process(loaded.frame)
        moved = changes(loaded.previous, regions)
        provenance: dict[str, Any] = {
            "title": "ITU-D region of each ITU member",
            "file": countries.ITU_REGIONS_FILE,
            "columns": _columns_doc(),
            "source": loaded.source,
            "trust": loaded.trust,
            "counts": _counts(regions, _wb_non_members(regions)),
        }
        if loaded.source.get("kind") == "api":
            provenance["changes_against_previous"] = moved
        provenance |= {
            "builder": loaded.builder,
            "licence": LICENCE,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        messages = [f"changes against the previous list: {'; '.join(moved)}"] if moved else []
        return RegionsBuild(regions, provenance, messages=messages)

    def check(self, result: RegionsBuild) -> list[str]:
        notes = sanity_check(result.regions, min_members=self.min_members)
        result.messages[:0] = notes
        return result.messages

    def save(self, result: RegionsBuild) -> dict[str, Path]:
        result.paths = save(result.regions, result.provenance, Path(self.out_dir))
        return result.paths


@dataclass
class RegionsFromCsv(_RegionsBuilder):
    """The list from a region CSV such as ``../shared/real/itu_regions.csv``.

    The provenance records the file's hash and, for the known snapshot, its
    origin, and grades trust: certain for the four P2C partners, unverified on
    the CIS/Europe line (:data:`CIS_EUROPE_LINE`), medium for the rest.
    """

    source: Path = Path("itu_regions.csv")

    def load(self) -> RegionsInput:
        source = Path(self.source)
        frame = load_csv(source)
        digest = sha256_bytes(source.read_bytes())
        known = KNOWN_CSV_SOURCES.get(digest)
        given = dict(zip(frame["iso3"].str.strip().str.upper(), frame["itu_region"].str.strip(),
                         strict=True))
        return RegionsInput(
            frame=frame,
            source={"kind": "csv", "name": source.name, "sha256": digest,
                    **(known or {"origin": "not recorded: not the documented snapshot "
                                           "../shared/real/itu_regions.csv"})},
            previous=_previous(Path(self.out_dir)),
            trust={
                "level": "medium",
                "certain": dict(countries.PARTNER_ITU_REGIONS),
                "unverified": {c: given[c] for c in CIS_EUROPE_LINE if c in given},
                "note": CSV_TRUST_NOTE,
            },
            builder="p2c_research.regions_build.RegionsFromCsv "
                    f"(invoke data.regions --source {_shown_path(source)})",
        )


@dataclass
class RegionsFromDataHub(_RegionsBuilder):
    """The list from ITU DataHub's ``v2/country/all`` (the authoritative list).

    The answer is validated whole (:func:`p2c_research.sources.itu.parse_country_regions`);
    the provenance names the URL, the retrieval time and the body's sha256, and
    lists what moved against the previous resource.
    """

    base_url: str | None = None
    client: HttpClient | None = None

    def load(self) -> RegionsInput:
        answer = itu.fetch_country_regions(self.base_url, client=self.client)
        return RegionsInput(
            frame=answer.regions,
            source={
                "kind": "api",
                "producer": itu.PUBLISHER,
                "url": answer.url,
                "retrieved_at": answer.retrieved_at,
                "sha256": sha256_bytes(answer.content),
                "bytes": len(answer.content),
                "selection": f"each economy's Regions entry of class {itu.ITU_D_CLASS!r}; "
                             "region ids " + ", ".join(f"{i} {n}" for i, n in
                                                       itu.ITU_D_REGION_IDS.items()),
                "economies_without_itu_d_region": answer.non_members,
            },
            previous=_previous(Path(self.out_dir)),
            trust={
                "level": "authoritative",
                "certain": dict(countries.PARTNER_ITU_REGIONS),
                "unverified": {},
                "note": "ITU DataHub's own ITU-D classification, as served at retrieved_at.",
            },
            builder="p2c_research.regions_build.RegionsFromDataHub (invoke data.regions --datahub)",
        )


def build_from_csv(source: Path | str, out_dir: Path | str | None = None, *,
                   min_members: int = MIN_MEMBERS) -> RegionsBuild:
    """Build the resource from a region CSV (see :class:`RegionsFromCsv`)."""
    return RegionsFromCsv(Path(out_dir) if out_dir else RESOURCES_DIR, min_members,
                          source=Path(source)).run().result


def build_from_datahub(base_url: str | None = None, out_dir: Path | str | None = None, *,
                       client: HttpClient | None = None,
                       min_members: int = MIN_MEMBERS) -> RegionsBuild:
    """Refresh the resource from ITU DataHub (see :class:`RegionsFromDataHub`).

    Raises:
        SourceError: the request failed or the answer has an unknown shape.
        DataError: the list fails :func:`sanity_check` (too short, a partner
            in the wrong region, ...).
    """
    return RegionsFromDataHub(Path(out_dir) if out_dir else RESOURCES_DIR, min_members,
                              base_url=base_url, client=client).run().result
