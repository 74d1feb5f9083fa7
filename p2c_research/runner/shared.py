"""Shared work of a batch: the all-country results, computed once before countries fan out.

Each report module may expose ``precompute(selection, params)``, which fills
the on-disk cache (scores, regression fits, pledge allocation) for the
default parameters. Workers then read the cache instead of recomputing the
world per country; a country whose params change an option computes (and
caches) its own variant.
"""

from __future__ import annotations

import importlib
import logging
import time

from p2c_research.datasets import DataSelection

log = logging.getLogger(__name__)

# Order matters: the pledge gaps read the landscape and benchmark caches.
PRECOMPUTE_HOOKS = (
    "p2c_research.reports.landscape_report",
    "p2c_research.reports.benchmark_report",
    "p2c_research.reports.pledge_report",
)


def precompute_shared(selection: DataSelection, reference_country: str = "KHM") -> dict[str, float]:
    """Warm the cache for the default params; returns seconds spent per hook."""
    from p2c_research.params import default_params_path, load_params

    params = load_params(reference_country, params_file=default_params_path())
    timings: dict[str, float] = {}
    for dotted in PRECOMPUTE_HOOKS:
        try:
            module = importlib.import_module(dotted)
        except ModuleNotFoundError:
            continue
        hook = getattr(module, "precompute", None)
        if hook is None:
            continue
        t0 = time.perf_counter()
        hook(selection, params)
        timings[dotted.rsplit(".", 1)[-1]] = round(time.perf_counter() - t0, 2)
    return timings
