"""YAML parsing for params, the catalog and column mappings, through libyaml when present.

PyYAML's pure-Python ``safe_load`` took about 30 ms per country params file,
read by each of a country's three notebooks. PyYAML's binding to libyaml
(``CSafeLoader``, in the manylinux wheels) parses the same safe subset to the
same values several times faster, and its errors carry the same
``problem_mark`` (line, column) that our messages quote.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, with libyaml's loader when PyYAML was built with it."""
    return yaml.load(text, Loader=_LOADER)
