"""Natural Earth: pinned-hash downloads with pooch, the offline fallback, and the processed GeoJSON."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import zipfile
from pathlib import Path

import pytest

from p2c_research.errors import SourceError
from p2c_research.sources import naturalearth
from p2c_research.sources.rawcache import RawCache
from p2c_research.store import read_provenance

pytest_plugins = ["http_fixtures"]

ZIP_PATH = "/110m/cultural/ne_110m_admin_0_countries.zip"


def square(x: float, y: float) -> dict:
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def feature(admin: str, iso_a3: str, iso_a3_eh: str, adm0: str, x: float) -> dict:
    props = {"ADMIN": admin, "NAME": admin, "ISO_A3": iso_a3, "ISO_A3_EH": iso_a3_eh,
             "ADM0_A3": adm0, "WB_A3": iso_a3, "CONTINENT": "Asia", "REGION_UN": "Asia",
             "SUBREGION": "", "POP_EST": 1.0}
    return {"type": "Feature", "properties": props, "geometry": square(x, 0)}


def ne_zip() -> bytes:
    """A zip holding a 3-feature admin-0 GeoJSON in Natural Earth's schema; France has
    ISO_A3 -99 (as in the real file), Somaliland no code at all."""
    collection = {"type": "FeatureCollection", "features": [
        feature("Cambodia", "KHM", "KHM", "KHM", 0),
        feature("France", "-99", "FRA", "FRA", 2),
        feature("Somaliland", "-99", "-99", "SOL", 4),
    ]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ne_110m_admin_0_countries.geojson", json.dumps(collection))
    return buf.getvalue()


@pytest.fixture
def ne_server(recorded_server):
    body = ne_zip()
    recorded_server.add(ZIP_PATH, body, content_type="application/zip")
    recorded_server.zip_sha = hashlib.sha256(body).hexdigest()
    return recorded_server


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_right_hash_is_accepted_and_recorded(ne_server, tmp_path):
    cache = RawCache("naturalearth", tmp_path)
    result = naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                                hashes={"110m": ne_server.zip_sha})
    zip_file = tmp_path / "naturalearth" / "ne_110m_admin_0_countries.zip"
    assert result.files == [zip_file] and result.n_downloaded == 1
    assert hashlib.sha256(zip_file.read_bytes()).hexdigest() == ne_server.zip_sha
    prov = read_provenance(zip_file)
    assert prov["parameters"]["pinned_sha256"] == ne_server.zip_sha
    assert prov["sha256"] == ne_server.zip_sha and prov["licence"].startswith("Public domain")
    assert prov["url_or_file"] == ne_server.url + ZIP_PATH
    again = naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                               hashes={"110m": ne_server.zip_sha})
    assert again.n_cached == 1 and ne_server.count(ZIP_PATH) == 1


def test_wrong_hash_is_rejected_and_nothing_is_kept(ne_server, tmp_path):
    cache = RawCache("naturalearth", tmp_path)
    with pytest.raises(SourceError, match="differs from the pinned release"):
        naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                           hashes={"110m": "0" * 64})
    folder = tmp_path / "naturalearth"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_unpinned_download_reports_the_observed_hash_and_strict_refuses(ne_server, tmp_path):
    cache = RawCache("naturalearth", tmp_path)
    result = naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                                hashes={"110m": None})
    assert any(ne_server.zip_sha in m and "not pinned" in m for m in result.messages)
    with pytest.raises(SourceError, match="strict mode refuses"):
        naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                           hashes={"110m": None}, strict=True)


def test_offline_falls_back_to_the_vendored_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("P2C_ROOT", str(tmp_path / "root"))
    vendored = tmp_path / "root" / "data" / "sample" / naturalearth.VENDORED_NAME
    vendored.parent.mkdir(parents=True)
    vendored.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    result = naturalearth.fetch(["110m", "50m"], base_url=closed_port_url(),
                                cache=RawCache("naturalearth", tmp_path / "raw"), timeout=2)
    assert result.files == [vendored]
    assert sum("falling back to the vendored" in m for m in result.messages) == 2
    with pytest.raises(SourceError, match="unreachable"):
        naturalearth.fetch(["110m"], base_url=closed_port_url(),
                           cache=RawCache("naturalearth", tmp_path / "raw"), strict=True,
                           hashes={"110m": "0" * 64}, timeout=2)


def test_build_geometries_resolves_iso3_through_iso_a3_eh(ne_server, tmp_path):
    import geopandas as gpd

    cache = RawCache("naturalearth", tmp_path / "raw")
    naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache,
                       hashes={"110m": ne_server.zip_sha})
    out = naturalearth.build_geometries(tmp_path / "raw", tmp_path / "processed" / "geo.geojson")
    world = gpd.read_file(out)
    codes = world.set_index("ADMIN")["iso3"]
    assert codes[["Cambodia", "France"]].tolist() == ["KHM", "FRA"]
    assert codes.isna()["Somaliland"]
    assert "unresolved: Somaliland" in read_provenance(out)["notes"]
    assert naturalearth.build_geometries(tmp_path / "empty", tmp_path / "x.geojson") is None
    assert not Path(tmp_path / "x.geojson").exists()


def test_natural_earth_zips_are_pinned_to_the_5_1_release():
    """The pins are the 5.1.1/5.1.2 cultural zips (public pooch registries), with their sizes."""
    pins = {s: (f.sha256, f.size) for s, f in naturalearth.NE_FILES.items()}
    assert pins == {
        "110m": ("0f243aeac8ac6cf26f0417285b0bd33ac47f1b5bdb719fd3e0df37d03ea37110", 214_976),
        "50m": ("5fed433373581fa648920435f937d95f2d3c0200e067409c6478dcdf1b853139", 799_734),
    }


def test_strict_mode_refuses_bytes_that_differ_from_the_shipped_pin(ne_server, tmp_path):
    """With the shipped pins (no override), a server's other bytes are refused, even strictly."""
    cache = RawCache("naturalearth", tmp_path)
    with pytest.raises(SourceError, match="differs from the pinned release"):
        naturalearth.fetch(["110m"], base_url=ne_server.url, cache=cache, strict=True)
    assert not (tmp_path / "naturalearth" / "ne_110m_admin_0_countries.zip").exists()


def test_strict_mode_accepts_a_download_that_matches_its_pin(ne_server, tmp_path, monkeypatch):
    pinned = naturalearth.NaturalEarthFile("110m", ZIP_PATH.lstrip("/"), ne_server.zip_sha,
                                           len(ne_zip()))
    monkeypatch.setitem(naturalearth.NE_FILES, "110m", pinned)
    result = naturalearth.fetch(["110m"], base_url=ne_server.url,
                                cache=RawCache("naturalearth", tmp_path), strict=True)
    assert result.n_downloaded == 1 and not result.messages
    assert read_provenance(result.files[0])["notes"] == "sha256 matched the pin"
