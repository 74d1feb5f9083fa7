"""The raw cache cannot be poisoned: only answers that parse and validate enter it, its key
holds the base URL, and a server cannot make a fetch follow endless pages or hold an
endless body. Recorded answers from 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2c_research.errors import SourceError
from p2c_research.sources import paging
from p2c_research.sources.fetch import fetch_source
from p2c_research.sources.http import HttpClient, HttpSettings
from p2c_research.store import provenance_path

pytest_plugins = ["http_fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAST = {"retries": 0, "backoff": 0.01, "timeout": 5.0, "start": 2021, "end": 2023}
CODE = "IT.CEL.SETS.P2"
INDICATOR = f"/v2/country/all/indicator/{CODE}"


def _page(value: object, pages: int = 1) -> str:
    meta = {"page": 1, "pages": pages, "per_page": 50, "total": 1}
    record = {"indicator": {"id": CODE, "value": "Mobile cellular subscriptions"},
              "country": {"id": "KH", "value": "Cambodia"}, "countryiso3code": "KHM",
              "date": "2022", "value": value, "unit": "", "obs_status": "", "decimal": 1}
    return json.dumps([meta, [record]])


def _serve_country_list(server) -> None:
    for page in (1, 2):
        server.add("/v2/country", server.fixture(f"worldbank/country_p{page}.json"),
                   query={"page": page})


def _files_of(raw: Path, stem: str) -> list[Path]:
    return sorted(raw.glob(f"{stem}*")) if raw.exists() else []


@pytest.mark.slow  # a subprocess
def test_a_non_numeric_value_exits_2_with_one_line_and_is_not_cached(recorded_server, tmp_path):
    _serve_country_list(recorded_server)
    recorded_server.add(INDICATOR, _page("12,5 (est.)"))
    env = {**os.environ, "P2C_ROOT": str(tmp_path), "P2C_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "invoke", "data.fetch", "--source", "worldbank", "--codes", CODE,
           "--base-url", recorded_server.url + "/v2", "--retries", "0"]
    raw = tmp_path / "data" / "raw" / "worldbank"
    for attempt in (1, 2):
        done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: World Bank API: indicator '{CODE}' has a value that "
                                   "is not a number for KHM in 2022 ('12,5 (est.)')")
        assert "Traceback" not in done.stderr
        assert _files_of(raw, CODE) == []  # nothing of the bad answer was kept
        # the next run asks the server again instead of failing from the cache
        assert recorded_server.count(INDICATOR) == attempt


def test_two_base_urls_do_not_share_a_cache_entry(recorded_server, tmp_path):
    mirror = type(recorded_server)()
    mirror.start()
    try:
        for server, value in ((recorded_server, 121.3), (mirror, 99.9)):
            _serve_country_list(server)
            server.add(INDICATOR, _page(value))

        def fetch(server):
            report = fetch_source("worldbank", base_url=server.url + "/v2", codes=[CODE],
                                  raw_root=tmp_path / "raw", **FAST)
            return float(report.panel["value"].iloc[0]), report.from_cache

        assert fetch(recorded_server) == (121.3, False)
        assert fetch(recorded_server) == (121.3, True)  # same base: served from the cache
        assert fetch(mirror) == (99.9, False)  # other base, within the TTL: asked again
        assert mirror.count(INDICATOR) == 1
        assert fetch(recorded_server) == (121.3, False)  # and back: the mirror's is not served
        assert recorded_server.count(INDICATOR) == 2
        sidecar = json.loads(provenance_path(
            tmp_path / "raw" / "worldbank" / f"{CODE}.p001.json").read_text())
        assert sidecar["parameters"]["endpoint"] == recorded_server.url + "/v2" + INDICATOR[3:]
    finally:
        mirror.stop()


def test_a_server_announcing_too_many_pages_is_refused_after_one_request(recorded_server,
                                                                          tmp_path):
    _serve_country_list(recorded_server)
    recorded_server.add(INDICATOR, _page(121.3, pages=paging.MAX_PAGES + 1))
    with pytest.raises(SourceError, match=rf"announces {paging.MAX_PAGES + 1} pages; the limit "
                                          rf"is {paging.MAX_PAGES} per query"):
        fetch_source("worldbank", base_url=recorded_server.url + "/v2", codes=[CODE],
                     raw_root=tmp_path / "raw", **FAST)
    assert recorded_server.count(INDICATOR) == 1
    assert _files_of(tmp_path / "raw" / "worldbank", CODE) == []


def test_a_body_over_the_limit_is_refused(recorded_server):
    recorded_server.add("/big", b"x" * 5000, content_type="text/plain")
    recorded_server.add("/small", b"x" * 900, content_type="text/plain")
    client = HttpClient(HttpSettings(retries=2, backoff=0.01, max_bytes=1000))
    assert len(client.get(recorded_server.url + "/small").content) == 900
    with pytest.raises(SourceError, match=r"/big: the answer is larger than the 0\.000953674 MB "
                                          r"limit"):
        client.get(recorded_server.url + "/big")
    assert recorded_server.count("/big") == 1  # not retried


class _Streamed:
    """A response without Content-Length (chunked): the limit applies while reading."""

    def __init__(self, chunks: int) -> None:
        self.headers: dict[str, str] = {}
        self.chunks, self.read, self.closed = chunks, 0, False

    def iter_content(self, chunk_size: int):
        for _ in range(self.chunks):
            self.read += 1
            yield b"y" * 400

    def close(self) -> None:
        self.closed = True


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit():
    client = HttpClient(HttpSettings(max_bytes=1000))
    endless = _Streamed(chunks=10_000)
    with pytest.raises(SourceError, match="larger than"):
        client._read_body(endless, "http://127.0.0.1/stream")
    assert endless.read == 3 and endless.closed  # 1200 bytes read, not 4 MB
    assert client._read_body(_Streamed(chunks=2), "http://127.0.0.1/stream") == b"y" * 800


def test_a_damaged_sidecar_counts_as_absent(recorded_server, tmp_path):
    _serve_country_list(recorded_server)
    recorded_server.add(INDICATOR, _page(121.3))
    options = {"base_url": recorded_server.url + "/v2", "codes": [CODE],
               "raw_root": tmp_path / "raw", **FAST}
    fetch_source("worldbank", **options)
    provenance_path(tmp_path / "raw" / "worldbank" / f"{CODE}.p001.json").write_text("{not json")
    report = fetch_source("worldbank", **options)
    assert not report.from_cache and recorded_server.count(INDICATOR) == 2
