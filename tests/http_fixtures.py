"""A local HTTP server that replays recorded responses, for adapter tests without the network.

Loaded as a pytest plugin by the ``test_sources_*`` modules
(``pytest_plugins = ["http_fixtures"]``). The ``recorded_server`` fixture
starts a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0, so tests never clash)
and answers each request from a routing table the test fills:

* ``server.add(path, body, query={...})`` answers GET ``path`` (query
  parameters given must match; the most specific route wins);
* several replies for one route are served in order, the last one repeating
  (a 500 then a 200 tests a retry);
* a reply can sleep (time-outs) or announce more bytes than it sends and
  close (an interrupted download);
* ``server.requests`` records every request (path and query) for assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
JSON = "application/json;charset=utf-8"
WB_INDICATOR = "/v2/country/all/indicator/"


def fixture_bytes(name: str) -> bytes:
    """The bytes of ``tests/fixtures/<name>``."""
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    """One recorded answer."""

    body: bytes = b""
    status: int = 200
    content_type: str = JSON
    delay: float = 0.0
    truncate: bool = False


@dataclass
class Route:
    path: str
    query: dict[str, str]
    replies: list[Reply]
    served: int = 0

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


@dataclass
class RecordedServer:
    """The routing table and request log behind the handler."""

    routes: list[Route] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fallback: Callable[[str, dict[str, str]], Reply | None] | None = None
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        path: str,
        *replies: Reply | bytes | str,
        query: dict[str, object] | None = None,
        status: int = 200,
        content_type: str = JSON,
    ) -> None:
        """Route GET ``path`` (with ``query`` a subset of the request's) to ``replies``."""
        made = []
        for r in replies:
            if isinstance(r, Reply):
                made.append(r)
            else:
                body = r.encode("utf-8") if isinstance(r, str) else r
                made.append(Reply(body=body, status=status, content_type=content_type))
        self.routes.append(Route(path, {k: str(v) for k, v in (query or {}).items()}, made))

    def count(self, path: str, **query: object) -> int:
        """How many requests hit ``path`` (with these query values)."""
        want = {k: str(v) for k, v in query.items()}
        return sum(1 for p, q in self.requests
                   if p == path and all(q.get(k) == v for k, v in want.items()))

    def match(self, path: str, query: dict[str, str]) -> Reply | None:
        with self._lock:
            self.requests.append((path, query))
            candidates = [r for r in self.routes if r.path == path
                          and all(query.get(k) == v for k, v in r.query.items())]
            if candidates:
                best = max(candidates, key=lambda r: len(r.query))
                return best.next_reply()
        return self.fallback(path, query) if self.fallback else None

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                reply = server.match(parts.path, dict(parse_qsl(parts.query)))
                if reply is None:
                    reply = Reply(b'{"error":"no recorded response"}', status=404)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if reply.truncate:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2] if reply.truncate else body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (time-out test)
                if reply.truncate:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    # helpers, so test modules need not import this plugin (which would defeat
    # pytest's assertion rewriting of it)
    @staticmethod
    def fixture(name: str) -> bytes:
        """The bytes of ``tests/fixtures/<name>``."""
        return fixture_bytes(name)

    @staticmethod
    def reply(body: bytes | str = b"", **kw: object) -> Reply:
        """A :class:`Reply` (status, content_type, delay, truncate as keywords)."""
        return Reply(body.encode("utf-8") if isinstance(body, str) else body, **kw)

    def serve_worldbank(self) -> None:
        """Route the World Bank fixtures: the 2-page country list, a 3-page indicator,
        single-page indicators (per-capita check, retries), and the error bodies."""
        for page in (1, 2):
            self.add("/v2/country", fixture_bytes(f"worldbank/country_p{page}.json"),
                     query={"page": page})
        for page in (1, 2, 3):
            self.add(WB_INDICATOR + "IT.NET.USER.ZS",
                     fixture_bytes(f"worldbank/IT.NET.USER.ZS_p{page}.json"), query={"page": page})
        for code in ("IP.JRN.ARTC.SC", "SP.POP.TOTL", "IT.CEL.SETS.P2"):
            self.add(WB_INDICATOR + code, fixture_bytes(f"worldbank/{code}_p1.json"))
        self.add(WB_INDICATOR + "EMPTY.CODE", fixture_bytes("worldbank/empty_p1.json"))
        self.add(WB_INDICATOR + "NOT.A.CODE", fixture_bytes("worldbank/error_envelope.json"))
        self.add(WB_INDICATOR + "BAD.SOURCE", fixture_bytes("worldbank/error_400.html"),
                 status=400, content_type="text/html")

    def serve_sdg(self) -> None:
        """Route the UN SDG fixtures (a 3-page coverage series, ownership, skills, an empty one)."""
        path = "/v1/sdg/Series/Data"
        for page in (1, 2, 3):
            self.add(path, fixture_bytes(f"sdg/IT_MOB_4GNTWK_p{page}.json"),
                     query={"seriesCode": "IT_MOB_4GNTWK", "page": page})
        for series in ("IT_MOB_OWN", "SE_ADT_ACTS"):
            self.add(path, fixture_bytes(f"sdg/{series}_p1.json"), query={"seriesCode": series})
        self.add(path, fixture_bytes("sdg/empty_p1.json"), query={"seriesCode": "XX_UNKNOWN"})

    def serve_itu(self) -> None:
        """Route the ITU DataHub API fixtures (4G coverage and internet use per country)."""
        for name in ("19306_KHM", "19306_XKX", "19306_MDG", "11624_KHM"):
            code_id, iso3 = name.split("_")
            self.add(f"/v2/data/bycode/{code_id}/byiso/{iso3}", fixture_bytes(f"itu/{name}.json"))
        self.add("/v2/data/bycode/11624/byiso/MDG", b"[]")
        self.add("/v2/data/bycode/11624/byiso/XKX", b"[]")

    def drop_routes(self, path: str) -> None:
        """Forget the routes of ``path`` (to re-record them differently)."""
        self.routes = [r for r in self.routes if r.path != path]

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


@pytest.fixture
def recorded_server():
    """A started :class:`RecordedServer`; its ``url`` is the base to pass as ``base_url``."""
    server = RecordedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

