"""One label map: the human name of every column, field and id a reader sees.

Reports, the portfolio page and the explorer call :func:`label` rather than
spelling labels inline, so one column reads the same on every page and a raw
id never reaches a table header. Indicator, sub-pillar and pillar ids take
their names from the catalog; other fields come from ``resources/labels.yaml``.
"""

from __future__ import annotations

from functools import cache

import yaml

from p2c_research.catalog import PILLAR_LABELS, load_catalog
from p2c_research.config import RESOURCES_DIR

LABELS_PATH = RESOURCES_DIR / "labels.yaml"


@cache
def field_labels() -> dict[str, str]:
    """Labels of plain fields (``resources/labels.yaml``), read once."""
    data = yaml.safe_load(LABELS_PATH.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in (data.get("fields") or {}).items()}


@cache
def _catalog_labels() -> dict[str, str]:
    catalog = load_catalog()
    out: dict[str, str] = {}
    for ind in catalog.indicators:
        out[ind.id] = ind.name
    for sp in catalog.sub_pillars:
        out[sp.id] = sp.label
    out.update(PILLAR_LABELS)
    return out


def indicator_label(indicator_id: str, with_unit: bool = False) -> str:
    """The catalog name of an indicator, optionally followed by its unit."""
    catalog = load_catalog()
    if indicator_id not in catalog:
        return label(indicator_id)
    ind = catalog[indicator_id]
    return f"{ind.name} ({ind.unit})" if with_unit and ind.unit else ind.name


def label(name: str) -> str:
    """The human label of a field name or id.

    Fields first, then catalog ids (indicators, sub-pillars, pillars). An
    unknown name is returned unchanged, so a missing label shows up in tests
    that look for raw ids instead of being hidden by a guess.
    """
    fields = field_labels()
    if name in fields:
        return fields[name]
    return _catalog_labels().get(name, name)


def is_raw_id(text: str) -> bool:
    """True when ``text`` is a field name or catalog id that has a label of its own."""
    return text in field_labels() or (text in _catalog_labels() and _catalog_labels()[text] != text)
