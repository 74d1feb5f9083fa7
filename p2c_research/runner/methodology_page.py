"""``OUT/methodology.html``: docs/methodology.md rendered beside the reports it explains.

Every report links to it with a relative link, so the method travels with the
outputs and opens offline, wherever ``--out`` points.
"""

from __future__ import annotations

import html
from pathlib import Path

from p2c_research.config import docs_dir
from p2c_research.store import atomic_write_text

PAGE = "methodology.html"
_STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:52rem;"
          "margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}"
          "code{background:#f3f3f3;padding:0 .2em}h1,h2{line-height:1.2}")


def write_methodology(out: Path) -> Path | None:
    """Render docs/methodology.md (trusted project text) to ``out/methodology.html``.

    Returns None when the docs are not there (an installed package without the
    repository); the reports' link then points at nothing, which the index says.
    """
    import mistune  # a dependency of nbconvert, which renders the reports

    source = docs_dir() / "methodology.md"
    if not source.is_file():
        return None
    body = mistune.html(source.read_text(encoding="utf-8"))
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape('Methodology — p2c-research')}</title>"
            f"<style>{_STYLE}</style></head><body>"
            f'<p><a href="index.html">Back to the index</a></p>{body}</body></html>\n')
    return atomic_write_text(Path(out) / PAGE, page)
