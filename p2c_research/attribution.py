"""Who published a value, and which licence a reader must be told about.

The panel's ``source`` column reads ``<label>:<code>`` (``wdi_file:IT.NET.USER.ZS``,
``itu_datahub_csv:i4214l per wdi_file:SP.POP.TOTL and ...``). Reports turn it
into publisher names for their source lines, and every line that shows ITU
DataHub values names its non-commercial licence: this module is the one place
those words are written.
"""

from __future__ import annotations

from collections.abc import Iterable

ITU_LICENCE_LABEL = "ITU DataHub, CC BY-NC-SA 3.0 IGO (non-commercial)"
# Source labels (the part before ":") and the publisher a reader knows.
PUBLISHERS: dict[str, str] = {
    "wdi_file": "World Bank WDI",
    "worldbank_api": "World Bank WDI",
    "unsd_sdg": "UN SDG database",
    "itu_datahub_csv": "ITU DataHub",
    "itu_datahub": "ITU DataHub",
}


def publisher(source: str) -> tuple[str, str]:
    """``"wdi_file:IT.NET.USER.ZS"`` -> ``("World Bank WDI", "IT.NET.USER.ZS")``.

    The code is the publisher's own series code (a conversion's denominators,
    named after it in the source, are left out here).
    """
    label, _, rest = str(source).partition(":")
    name = PUBLISHERS.get(label.strip().lower())
    if name is None:
        return (str(source), "")
    return (name, rest.split(" ", 1)[0])


def is_itu(source: str) -> bool:
    return publisher(source)[0] == "ITU DataHub"


def licence_note(sources: Iterable[str]) -> str:
    """The licence sentence a source line needs ("" when no ITU value is shown)."""
    return (f" ITU values: {ITU_LICENCE_LABEL}." if any(is_itu(s) for s in sources) else "")


def publishers_text(sources: Iterable[str]) -> str:
    """The publishers of ``sources``, in a fixed order, e.g. ``ITU DataHub, World Bank WDI``."""
    names = {publisher(s)[0] for s in sources if str(s)}
    order = ["ITU DataHub", "World Bank WDI", "UN SDG database"]
    return ", ".join(sorted(names, key=lambda n: (order.index(n) if n in order else 9, n)))
