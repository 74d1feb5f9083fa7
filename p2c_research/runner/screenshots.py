"""Full-page PNGs of a batch's pages for reviewers: ``OUT/screenshots/``.

Headless chromium (``--screenshot``) opens each page from disk, so what is
captured is what a reviewer sees offline: KHM's three reports (or another
country's), the index and, when the batch wrote it, the portfolio page.
chromium has no full-page switch; a tall window (:data:`HEIGHT`) takes in
the header, the table of contents and the first sections of a report.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from p2c_research.errors import P2CError
from p2c_research.runner.notebooks import NOTEBOOKS
from p2c_research.runner.page_chrome import CROSS_COUNTRY_PAGES

WIDTH = 1300
#: Pixels of page captured (chromium's window height): a report's header,
#: contents and first sections; the index of the four partners fits in less.
HEIGHT = 4000
INDEX_HEIGHT = 1600
#: Seconds one page may take to render before the capture is abandoned.
TIMEOUT = 120.0


def chromium_path() -> str:
    """The chromium binary, or a P2CError that says how to install it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    raise P2CError("chromium not found; install it (apt-get install chromium) to take screenshots")


def pages_to_capture(out: Path, country: str = "KHM") -> dict[str, Path]:
    """PNG name -> page: the country's reports, the index and the pages across countries."""
    pages = {f"{country}_{Path(nb).stem}.png": out / country / f"{Path(nb).stem}.html"
             for nb in NOTEBOOKS.values()}
    pages["index.png"] = out / "index.html"
    for stem, page in CROSS_COUNTRY_PAGES.items():
        pages[f"{stem.split('_', 1)[-1]}.png"] = out / page
    return {name: path for name, path in pages.items() if path.exists()}


def take_screenshots(out: Path, country: str = "KHM", *, height: int = HEIGHT) -> list[Path]:
    """Capture :func:`pages_to_capture` into ``OUT/screenshots/``; returns the PNGs written.

    Raises:
        P2CError: no page to capture (run the batch first), or chromium failed.
    """
    out = Path(out).resolve()
    pages = pages_to_capture(out, country)
    if not pages:
        raise P2CError(f"{out}: no report or index to capture; run `invoke batch` first")
    folder = out / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    browser = chromium_path()
    written = []
    for name, page in pages.items():
        png = folder / name
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               f"--screenshot={png}",
               f"--window-size={WIDTH},{INDEX_HEIGHT if name == 'index.png' else height}",
               page.as_uri()]
        try:
            subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, check=True)
        except (subprocess.SubprocessError, OSError) as exc:
            raise P2CError(f"chromium could not capture {page}: {exc}") from exc
        if not png.exists():
            raise P2CError(f"chromium wrote no screenshot of {page}")
        written.append(png)
    return written
