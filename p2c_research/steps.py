"""The all-country computations, declared in one place: inputs, code, cached output.

A batch computes the world once per data vintage (the screened panel, every
economy's scores, every indicator's fits) and every country's reports read
it. Each step here names the pure analysis function it runs, the modules
whose code decides its result, and its inputs. Its cache key is derived from
those: the hash of the input files (the data vintage), the catalog, the
country reference where it matters, the options, and the hash of the source
of the step's code. A change of data, options or code computes afresh; no
version constant is bumped by hand.

The analyses themselves (:mod:`p2c_research.analyses`) stay pure: they get
DataFrames and never touch a file. The pledge allocation (:data:`ALLOCATION`)
is run by the pledge report, which has the pledge file, under a key made the
same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from p2c_research import countries
from p2c_research.analyses.benchmark import DEFAULT_MIN_N, BenchmarkResults, world_benchmark
from p2c_research.analyses.quality import DEFAULT_RULES, screen_panel
from p2c_research.analyses.scores import WorldScores, world_scores
from p2c_research.cache import cache_key, cached_frames
from p2c_research.catalog import Catalog
from p2c_research.datasets import DataSelection, load_panel

if TYPE_CHECKING:
    from p2c_research.params import CountryParams


@dataclass(frozen=True)
class Step:
    """One all-country computation: its cache name and the modules its result depends on."""

    name: str
    code: tuple[str, ...]

    def code_hash(self) -> str:
        """A digest of the source files of :attr:`code` (this process's, read once)."""
        return _code_hash(self.code)

    def key(self, **inputs: Any) -> str:
        return cache_key(step=self.name, code=self.code_hash(), **inputs)


@cache
def _code_hash(modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"step code {name!r} not found")
        h.update(name.encode())
        h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:16]


def catalog_hash(catalog: Catalog) -> str:
    """A digest of the catalog's content (goalposts, codes, conversions, core groups)."""
    return hashlib.sha256(catalog.model_dump_json().encode()).hexdigest()[:16]


def reference_hash() -> str:
    """A digest of the country reference the fits group economies by (region, income group)."""
    ref = countries.load_countries()[["iso3", "wb_region", "income_group"]]
    return hashlib.sha256(ref.to_csv(index=False).encode()).hexdigest()[:16]


SCREEN = Step("screened_panel", ("p2c_research.analyses.quality",))
SCORES = Step("world_scores", ("p2c_research.analyses.scores", "p2c_research.analyses.quality",
                               "p2c_research.steps"))
BENCHMARK = Step("world_benchmark", ("p2c_research.analyses.benchmark",
                                     "p2c_research.analyses.benchmark_models",
                                     "p2c_research.analyses.regression",
                                     "p2c_research.analyses.quality", "p2c_research.steps"))
#: Every pledge allocated to economies: run by the pledge report (it needs the pledge file),
#: declared here so its key follows the same rule.
ALLOCATION = Step("pledge_allocation", ("p2c_research.analyses.allocation",
                                        "p2c_research.analyses.gaps",
                                        "p2c_research.pledges.schema", "p2c_research.steps"))
STEPS: tuple[Step, ...] = (SCREEN, SCORES, BENCHMARK, ALLOCATION)


def screened_panel(selection: DataSelection, catalog: Catalog,
                   reference_year: int) -> pd.DataFrame:
    """The selection's panel through the data-quality screen
    (:func:`p2c_research.analyses.quality.screen_panel`, default rules)."""
    key = SCREEN.key(vintage=selection.fingerprint(), catalog=catalog_hash(catalog),
                     reference_year=int(reference_year), rules=repr(DEFAULT_RULES))
    return cached_frames(SCREEN.name, key, lambda: {"panel": screen_panel(
        load_panel(selection), catalog, int(reference_year))})["panel"]


def scores(selection: DataSelection, catalog: Catalog, window: tuple[int, int],
           coverage_threshold: float, reference_year: int | None = None) -> WorldScores:
    """Every economy's scores (:func:`p2c_research.analyses.scores.world_scores`).

    With ``reference_year`` on the quality-screened panel (:func:`screened_panel`);
    without one, on the panel as published.
    """
    window = (int(window[0]), int(window[1]))
    key = SCORES.key(vintage=selection.fingerprint(), catalog=catalog_hash(catalog),
                     window=list(window), coverage_threshold=float(coverage_threshold),
                     reference_year=reference_year)

    def compute() -> dict[str, pd.DataFrame]:
        panel = (load_panel(selection) if reference_year is None
                 else screened_panel(selection, catalog, reference_year))
        return world_scores(panel, catalog, window, coverage_threshold).frames()

    frames = cached_frames(SCORES.name, key, compute)
    return WorldScores.from_frames(frames, window, coverage_threshold)


def benchmark(selection: DataSelection, catalog: Catalog, window: tuple[int, int], *,
              pi_level: float = 0.90, frontier_q: float = 0.90, min_n: int = DEFAULT_MIN_N,
              reference_year: int | None = None, root: Path | None = None) -> BenchmarkResults:
    """Every indicator's fits for every economy (:func:`p2c_research.analyses.benchmark.world_benchmark`).

    With ``reference_year`` on the quality-screened panel (outliers and
    imputed repeats left out). ``root`` overrides the cache folder (tests).
    """
    window = (int(window[0]), int(window[1]))
    key = BENCHMARK.key(vintage=selection.fingerprint(), catalog=catalog_hash(catalog),
                        reference=reference_hash(), window=list(window),
                        pi_level=float(pi_level), frontier_q=float(frontier_q),
                        min_n=int(min_n), reference_year=reference_year)

    def compute() -> dict[str, pd.DataFrame]:
        panel = (load_panel(selection) if reference_year is None
                 else screened_panel(selection, catalog, reference_year))
        return world_benchmark(panel, catalog, window, pi_level=pi_level,
                               frontier_q=frontier_q, min_n=min_n).to_frames()

    return BenchmarkResults.from_frames(cached_frames(BENCHMARK.name, key, compute, root=root))


def params_benchmark(selection: DataSelection, catalog: Catalog,
                     params: CountryParams) -> BenchmarkResults:
    """:func:`benchmark` with one country's options (window, interval, frontier, reference year)."""
    a = params.analysis
    return benchmark(selection, catalog, (params.year_window.start, params.year_window.end),
                     pi_level=a.prediction_interval, frontier_q=a.frontier_quantile,
                     reference_year=params.reference_year)


def params_scores(selection: DataSelection, catalog: Catalog,
                  params: CountryParams) -> WorldScores:
    """:func:`scores` with one country's options (window, threshold, reference year)."""
    return scores(selection, catalog, (params.year_window.start, params.year_window.end),
                  params.analysis.coverage_threshold, params.reference_year)


def precompute(selection: DataSelection, catalog: Catalog,
               params: CountryParams) -> dict[str, float]:
    """Run every step for ``params``' options (a batch's shared work); seconds per step."""
    import time

    timings: dict[str, float] = {}
    for name, run in (("screened_panel", lambda: screened_panel(selection, catalog,
                                                               params.reference_year)),
                      ("scores", lambda: params_scores(selection, catalog, params)),
                      ("benchmark", lambda: params_benchmark(selection, catalog, params))):
        t0 = time.perf_counter()
        run()
        timings[name] = round(time.perf_counter() - t0, 2)
    return timings
