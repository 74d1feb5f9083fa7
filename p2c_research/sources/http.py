"""A small HTTP client shared by the API adapters: time-outs, retries with backoff, clear errors.

Publishers' APIs fail in ordinary ways (a 502 from a gateway, a slow page, a
dropped connection). Each adapter needs the same answer to them: retry the
transient failures a few times with exponential backoff, and turn everything
else into a :class:`~p2c_research.errors.SourceError` that names the URL and
says what came back, so the user can tell a bad code from a dead server.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from p2c_research.errors import SourceError

log = logging.getLogger(__name__)

USER_AGENT = "p2c-research/0.1 (ITU Partner2Connect research workbench)"

# Status codes worth another try: server-side trouble and rate limiting.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Largest response body read (bytes). A World Bank page of 10,000 records is
#: about 3 MB; a body past this is refused, not held in memory.
MAX_BODY_BYTES = 50 * 2**20


@dataclass(frozen=True)
class HttpSettings:
    """How patient a fetch is.

    Attributes:
        timeout: seconds to wait for the connection and for each read.
        retries: extra attempts after the first one, on 5xx, 429, time-outs
            and dropped connections.
        backoff: seconds before the first retry; doubled at each further retry.
        backoff_max: ceiling of a single wait, in seconds.
        max_bytes: largest body accepted (:data:`MAX_BODY_BYTES`); a larger one
            is a :class:`~p2c_research.errors.SourceError`, not retried.
    """

    timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 30.0
    max_bytes: int = MAX_BODY_BYTES

    def wait(self, attempt: int) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)


@dataclass
class HttpResult:
    """A successful response body, with the URL actually requested."""

    url: str
    status: int
    content: bytes
    content_type: str
    attempts: int = 1


@dataclass
class HttpClient:
    """GET with retries. One instance per fetch; it counts the requests it made."""

    settings: HttpSettings = field(default_factory=HttpSettings)
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    requests_made: int = 0

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = requests.Session()
            self.session.headers["User-Agent"] = USER_AGENT

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> HttpResult:
        """Fetch ``url`` and return its full body.

        Raises:
            SourceError: a 4xx answer (not retried), or a 5xx / time-out / dropped
                connection that persisted through every retry. The message
                names the URL, the status and the start of the body.
        """
        assert self.session is not None
        last_problem = ""
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            full_url = url
            try:
                self.requests_made += 1
                resp = self.session.get(url, params=params, timeout=self.settings.timeout,
                                        stream=True)
                full_url = resp.url
                # Reading the body here means a connection dropped mid-body is
                # caught below and retried, and nothing partial is returned.
                content = self._read_body(resp, full_url)
            except requests.Timeout:
                last_problem = f"no answer within {self.settings.timeout:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                last_problem = f"connection failed ({type(exc).__name__}: {_short(str(exc))})"
            else:
                status = resp.status_code
                ctype = resp.headers.get("Content-Type", "")
                if status < 400:
                    return HttpResult(full_url, status, content, ctype, attempt)
                snippet = body_snippet(content, ctype)
                if status not in RETRY_STATUS:
                    raise SourceError(
                        f"GET {full_url} failed with HTTP {status}: {snippet}. "
                        "Check the code and parameters; a 4xx is not retried."
                    )
                last_problem = f"HTTP {status}: {snippet}"
            if attempt < attempts:
                wait = self.settings.wait(attempt)
                log.warning("GET %s: %s; retry %d/%d in %.2g s", full_url, last_problem,
                            attempt, self.settings.retries, wait)
                self.sleep(wait)
        raise SourceError(
            f"GET {_with_params(url, params)} failed after {attempts} attempt(s): {last_problem}. "
            "The server may be down or slow; try again later, raise --retries/--timeout, "
            "or point --base-url at a mirror."
        )

    def _read_body(self, resp: requests.Response, url: str) -> bytes:
        """The whole body, refused as soon as it passes ``settings.max_bytes``."""
        limit = self.settings.max_bytes
        too_big = SourceError(
            f"GET {url}: the answer is larger than the {limit / 2**20:g} MB limit of one "
            "response (HttpSettings.max_bytes); check --base-url, or ask for less at a time")
        announced = resp.headers.get("Content-Length", "")
        try:
            if announced.isdigit() and int(announced) > limit:
                raise too_big
            body = bytearray()
            for chunk in resp.iter_content(chunk_size=1 << 16):
                body += chunk
                if len(body) > limit:
                    raise too_big
            return bytes(body)
        finally:
            resp.close()


def body_snippet(content: bytes, content_type: str = "", limit: int = 200) -> str:
    """The start of a response body as readable text (HTML tags stripped)."""
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        title = re.search(r"<title>(.*?)</title>", text, flags=re.I | re.S)
        paras = re.findall(r"<p[^>]*>(.*?)</p>", text, flags=re.I | re.S)
        parts = [m.strip() for m in ([title.group(1)] if title else []) + paras if m.strip()]
        text = " - ".join(dict.fromkeys(parts)) or re.sub(r"<[^>]+>", " ", text)
    return _short(" ".join(text.split()), limit) or "(empty body)"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return requests.Request("GET", url, params=dict(params)).prepare().url or url
