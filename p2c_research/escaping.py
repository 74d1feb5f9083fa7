"""One escaping path for every text that reaches a report, a widget or the index page.

Params files come from contributors, pledge files from data owners, and the
reports go to reviewers. Any of their text (a priority title, a peer label, a
source, a pledge's entity or description) must reach the page as text:
never as HTML, and never as Markdown, since a Markdown renderer turns
``[x](javascript:...)`` into a live link even after HTML escaping.

- :func:`html_text`: for HTML, an element's text or a quoted attribute value.
- :func:`md_text`: for a Markdown display. Besides the HTML characters, every
  ASCII punctuation character (the ones CommonMark lets a backslash escape,
  that is every character Markdown can give a meaning to) is written as a
  numeric character reference, which Markdown renderers show as that
  character and never read as syntax: no link, image, autolink, emphasis,
  heading, list or table can come out of it. Line breaks become spaces.
- :func:`md_code`: the same as ``<code>`` (a Markdown code span would show
  the references literally).
- :func:`escaped_table`: a pandas Styler whose cells, column headers and
  index labels are all escaped (a Styler escapes only the cells when asked,
  and nothing by default).
- :func:`relative_href`: a link target that can only be a relative path.
"""

from __future__ import annotations

import html
import re
import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

#: Every ASCII punctuation character, as a numeric character reference.
_MARKDOWN_SAFE = {ord(ch): f"&#{ord(ch)};" for ch in string.punctuation}
_LINE_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")


def html_text(value: object) -> str:
    """``value`` as HTML text, safe in an element and in a quoted attribute value."""
    return html.escape(str(value), quote=True)


def md_text(value: object) -> str:
    """``value`` as literal text inside a Markdown display (see the module docstring)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    return text.translate(_MARKDOWN_SAFE)


def md_code(value: object) -> str:
    """``value`` in a monospace span of a Markdown display, shown literally."""
    return f"<code>{md_text(value)}</code>"


def escaped_table(styler: Styler) -> Styler:
    """``styler`` with its column headers and index labels HTML-escaped, as its cells.

    Call it after the last ``format`` of the cells, which must pass
    ``escape="html"`` (a later ``format`` call replaces the cells' escaping).
    """
    return (styler.format_index(escape="html", axis=0)
            .format_index(escape="html", axis=1))


#: Schemes a link in a report may never have (browsers ignore case and
#: leading whitespace or control characters before the scheme).
_SCHEME = re.compile(r"^[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def relative_href(path: str) -> str:
    """``path`` as an ``href`` value: HTML-escaped, and only ever a relative path.

    Raises:
        ValueError: ``path`` has a scheme (``javascript:``, ``data:``, ``http:``
            ...) or is absolute; the index links only to files in its folder.
    """
    if _SCHEME.match(path) or path.strip().startswith(("/", "\\")):
        raise ValueError(f"not a relative link: {path!r}")
    return html_text(path)
