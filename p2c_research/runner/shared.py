"""Shared work of a batch: the all-country results, computed once before countries fan out.

:func:`p2c_research.steps.precompute` fills the on-disk cache (the screened
panel, every economy's scores, every indicator's fits) for the default
parameters, and the pledge report's allocation step
(:mod:`~p2c_research.reports.pledge_world`) allocates every pledge. Workers
then read the cache instead of recomputing the world per country; a country
whose params change an option computes (and caches) its own variant.
"""

from __future__ import annotations

import time

from p2c_research import steps
from p2c_research.catalog import load_catalog
from p2c_research.datasets import DataSelection
from p2c_research.reports import pledge_world


def precompute_shared(selection: DataSelection, reference_country: str = "KHM") -> dict[str, float]:
    """Warm the cache for the default params; returns seconds spent per step."""
    from p2c_research.params import default_params_path, load_params

    params = load_params(reference_country, params_file=default_params_path())
    timings = steps.precompute(selection, load_catalog(), params)
    t0 = time.perf_counter()
    pledge_world.precompute(selection, params)
    timings["pledge_allocation"] = round(time.perf_counter() - t0, 2)
    return timings
