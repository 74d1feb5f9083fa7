"""ITU-D regions: the packaged list, its builder, and the refresh from ITU DataHub's v2/country/all.

The DataHub answer is the hand-made fixture ``fixtures/itu/country_all.json``
(see the README beside it), served from a local server; nothing here touches
the network. Expected values are written out by hand or read from the files
with the csv/json modules, not through the package.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from p2c_research import countries, regions_build
from p2c_research.config import RESOURCES_DIR
from p2c_research.errors import DataError, SourceError
from p2c_research.sources import itu
from p2c_research.sources.http import HttpClient, HttpSettings

pytest_plugins = ["http_fixtures"]

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "itu" / "country_all.json"
# What the fixture says, written out by hand (KSO, ABW, HKG have no ITU-D entry).
FIXTURE_MEMBERS = {
    "BRA": "Americas", "DOM": "Americas", "EGY": "Arab States", "FRA": "Europe",
    "IRN": "Asia & Pacific", "KAZ": "CIS", "KHM": "Asia & Pacific", "MDG": "Africa",
    "MRT": "Arab States", "NGA": "Africa", "RUS": "CIS", "VAT": "Europe",
}
FAST = HttpSettings(timeout=5.0, retries=1, backoff=0.01)


def read_csv_rows(path: Path) -> dict[str, tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["iso3"]: (row["name"], row["itu_region"]) for row in csv.DictReader(fh)}


# --------------------------------------------------------------------------- the resource
def test_region_lookups_of_the_partners_and_non_members():
    assert {code: countries.itu_region(code) for code in ("KHM", "MDG", "DOM", "MRT")} == {
        "KHM": "Asia & Pacific", "MDG": "Africa", "DOM": "Americas", "MRT": "Arab States"}
    assert countries.itu_region("khm ") == "Asia & Pacific"
    for code in ("HKG", "MAC", "PRI", "ABW", "XKX"):
        assert countries.itu_region(code) is None
        assert not countries.is_itu_member(code)
    assert countries.is_itu_member("FRA")


def test_region_members_are_world_bank_economies_of_the_resource():
    rows = read_csv_rows(Path(RESOURCES_DIR) / "itu_regions.csv")
    economies = set(countries.load_countries()["iso3"])
    for region in countries.ITU_REGIONS:
        expected = sorted(c for c, (_, r) in rows.items() if r == region and c in economies)
        assert countries.itu_region_members(region) == expected
    arab = countries.itu_region_members("Arab States")
    assert {"MRT", "MAR", "EGY", "SDN", "SOM", "DJI", "COM"} <= set(arab)
    assert len(arab) == 22
    assert "VAT" not in countries.itu_region_members("Europe")  # not a World Bank economy
    assert "VAT" in set(countries.load_itu_regions()["iso3"])  # but an ITU member
    assert countries.itu_region_members("asia and pacific") == countries.itu_region_members(
        "Asia & Pacific")
    with pytest.raises(DataError, match="unknown ITU-D region 'Oceania'"):
        countries.itu_region_members("Oceania")


def test_resource_provenance_grades_trust():
    prov = json.loads((Path(RESOURCES_DIR) / "itu_regions.provenance.json").read_text())
    trust = prov["trust"]
    assert trust["level"] == "medium"
    assert trust["certain"] == {"KHM": "Asia & Pacific", "MDG": "Africa", "DOM": "Americas",
                                "MRT": "Arab States"}
    assert {"GEO", "MDA", "UKR", "RUS", "KAZ"} <= set(trust["unverified"])
    assert trust["unverified"]["UKR"] == "Europe"
    assert prov["counts"]["members"] == 195
    assert prov["counts"]["by_region"] == {"Africa": 44, "Americas": 35, "Arab States": 22,
                                           "Asia & Pacific": 39, "CIS": 9, "Europe": 46}
    assert "govstack_map" in prov["source"]["origin"]
    assert "invoke data.regions --source" in prov["builder"]


@pytest.mark.real
def test_committed_resource_is_the_builder_output_of_the_snapshot(real_dir, tmp_path):
    source = real_dir / "itu_regions.csv"
    built = regions_build.build_from_csv(source, tmp_path)
    committed = Path(RESOURCES_DIR) / "itu_regions.csv"
    assert (tmp_path / "itu_regions.csv").read_bytes() == committed.read_bytes()
    with open(source, newline="", encoding="utf-8") as fh:
        snapshot = {r["iso3"]: r["itu_region"] for r in csv.DictReader(fh)}
    assert {c: r for c, (_, r) in read_csv_rows(committed).items()} == snapshot
    prov = json.loads((tmp_path / "itu_regions.provenance.json").read_text())
    assert prov["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    committed_prov = json.loads((Path(RESOURCES_DIR) / "itu_regions.provenance.json").read_text())
    assert {k: v for k, v in prov.items() if k != "built_at"} == \
        {k: v for k, v in committed_prov.items() if k != "built_at"}
    assert "VAT" in built.summary()


# --------------------------------------------------------------------------- CSV builds
def _write_rows(path: Path, rows: dict[str, str]) -> Path:
    lines = ["iso3,name,itu_region"] + [f"{c},{c},{r}" for c, r in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_wrong_list_is_refused_and_the_previous_one_kept(tmp_path):
    good = _write_rows(tmp_path / "good.csv", FIXTURE_MEMBERS)
    out = tmp_path / "out"
    regions_build.build_from_csv(good, out, min_members=10)
    before = (out / "itu_regions.csv").read_bytes(), (out / "itu_regions.provenance.json").read_bytes()

    wrong = _write_rows(tmp_path / "wrong.csv", {**FIXTURE_MEMBERS, "MRT": "Africa"})
    with pytest.raises(DataError, match="MRT is 'Africa', not 'Arab States'"):
        regions_build.build_from_csv(wrong, out, min_members=10)
    unknown = _write_rows(tmp_path / "unknown.csv", {**FIXTURE_MEMBERS, "FRA": "Western Europe"})
    with pytest.raises(DataError, match="FRA 'Western Europe'"):
        regions_build.build_from_csv(unknown, out, min_members=10)
    with pytest.raises(DataError, match="only 12 members, fewer than 180"):
        regions_build.build_from_csv(good, out)
    after = (out / "itu_regions.csv").read_bytes(), (out / "itu_regions.provenance.json").read_bytes()
    assert after == before


def test_changes_against_the_previous_list_are_listed(tmp_path):
    out = tmp_path / "out"
    regions_build.build_from_csv(_write_rows(tmp_path / "a.csv", FIXTURE_MEMBERS), out,
                                 min_members=10)
    moved = {**FIXTURE_MEMBERS, "KAZ": "Europe", "GEO": "CIS"}
    del moved["NGA"]
    built = regions_build.build_from_csv(_write_rows(tmp_path / "b.csv", moved), out,
                                         min_members=10)
    note = next(m for m in built.messages if m.startswith("changes"))
    assert "KAZ: CIS -> Europe" in note
    assert "added: GEO" in note and "removed: NGA" in note


# --------------------------------------------------------------------------- DataHub
def test_parse_country_all_maps_region_ids_and_finds_non_members():
    regions, non_members = itu.parse_country_regions(FIXTURE.read_bytes())
    assert dict(zip(regions["iso3"], regions["itu_region"], strict=True)) == FIXTURE_MEMBERS
    assert non_members == ["ABW", "HKG", "XKX"]  # ITU's KSO is the World Bank's XKX


def test_refresh_from_datahub_end_to_end(recorded_server, tmp_path):
    body = FIXTURE.read_bytes()
    recorded_server.add("/v2/country/all", body)
    out = tmp_path / "resources"
    built = regions_build.build_from_datahub(recorded_server.url, out, min_members=10,
                                             client=HttpClient(FAST))
    assert recorded_server.count("/v2/country/all") == 1
    rows = read_csv_rows(out / "itu_regions.csv")
    assert {c: r for c, (_, r) in rows.items()} == FIXTURE_MEMBERS
    # World Bank spellings for economies; VAT keeps the DataHub's name
    assert rows["DOM"][0] == "Dominican Republic" and rows["VAT"][0] == "Vatican"
    prov = json.loads((out / "itu_regions.provenance.json").read_text())
    assert prov["source"]["url"] == f"{recorded_server.url}/v2/country/all"
    assert prov["source"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert prov["source"]["economies_without_itu_d_region"] == ["ABW", "HKG", "XKX"]
    assert prov["trust"]["level"] == "authoritative"
    assert prov["counts"]["by_region"]["CIS"] == 2
    assert prov["counts"]["not_world_bank_economies"] == ["VAT"]
    assert built.paths["regions"] == out / "itu_regions.csv"


@pytest.mark.slow  # subprocesses
def test_invoke_data_regions_refreshes_and_refuses_a_short_answer(recorded_server, tmp_path,
                                                                   project_root):
    recorded_server.add("/v2/country/all", FIXTURE.read_bytes())
    out = tmp_path / "resources"
    base = [sys.executable, "-m", "invoke", "data.regions", "--datahub", "--base-url",
            recorded_server.url, "--out", str(out), "--retries", "0"]
    refused = subprocess.run(base, cwd=project_root, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "only 12 members, fewer than 180" in refused.stderr
    assert not out.exists()
    done = subprocess.run([*base, "--min-members", "10"], cwd=project_root, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "12 ITU members written" in done.stdout
    assert read_csv_rows(out / "itu_regions.csv")["RUS"][1] == "CIS"


def _economy(iso: str, *regions: dict) -> dict:
    return {"CountryID": 1, "IsoCode": iso, "ShortName": iso, "LongName": iso,
            "Regions": list(regions)}


def _itu_entry(region_id: object, name: str) -> dict:
    return {"id": region_id, "regionCode": "X", "class": "ITU/BDT Classification",
            "classID": 2, "region": name}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"message": "Missing Authentication Token"}', "answered with an error: Missing Auth"),
    (b"<html><title>502 Bad Gateway</title></html>", "not JSON: 502 Bad Gateway"),
    (b"[]", "expected a non-empty JSON array of economies"),
    (json.dumps([{"IsoCode": "KHM", "ShortName": "Cambodia"}]).encode(),
     "entry 0 is not an economy of the expected shape"),
    (json.dumps([_economy("KHM", _itu_entry(4, "Asia & Pacific")),
                 _economy("PLW", _itu_entry(17, "Oceania"))]).encode(),
     "PLW has ITU-D region id 17 \\('Oceania'\\), which is not a known ITU-D region"),
    (json.dumps([_economy("KHM", _itu_entry(4, "Europe"))]).encode(),
     "KHM's ITU-D region id 4 is named 'Europe'"),
    (json.dumps([_economy("KHM", _itu_entry(4, "Asia & Pacific"), _itu_entry(5, "Europe"))]
                ).encode(), "KHM is in several ITU-D regions"),
    (json.dumps([_economy("KHM", _itu_entry("four", "Asia & Pacific"))]).encode(),
     "without a numeric region id"),
    (json.dumps([_economy("KHM", {"id": 650, "class": "ITU/BDT & Other Classification",
                                  "region": "Other Economies"})]).encode(),
     "no economy has a Regions entry of class 'ITU/BDT Classification'"),
])
def test_unknown_shapes_are_source_errors_and_nothing_is_written(recorded_server, tmp_path,
                                                                 body, message):
    recorded_server.add("/v2/country/all", body)
    out = tmp_path / "resources"
    with pytest.raises(SourceError, match=message):
        regions_build.build_from_datahub(recorded_server.url, out, min_members=1,
                                         client=HttpClient(FAST))
    assert not out.exists() or not any(out.iterdir())
