"""The front door of p2c-research: `invoke --list` shows every task.

Tasks are thin: each parses its options and calls one package function, so the
same work is reachable from Python and from the command line. User errors
(unknown country, bad YAML, broken files, a full disk) print one clear message
and exit 2, without a traceback; Ctrl-C exits 130. Numeric options are taken
as text and checked here, since invoke's own conversion fails with a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from invoke import Collection, Exit, Task, task

ROOT = Path(__file__).resolve().parent


#: Exit codes: 1 = a country or request failed, 2 = bad input, 130 = interrupted (Ctrl-C).
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _user_errors(fn):
    """Turn a P2CError into one message and exit code 2, and Ctrl-C into exit code 130.

    The command line is a process the workbench owns, so it also takes the batch's
    pandas setting (:mod:`p2c_research.runner.worker_setup`).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from p2c_research.errors import P2CError
        from p2c_research.runner.worker_setup import use_python_strings

        use_python_strings()

        try:
            return fn(*args, **kwargs)
        except P2CError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise Exit(code=EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            print("\ninterrupted; rerun with --resume to keep the reports already finished",
                  file=sys.stderr)
            raise Exit(code=EXIT_INTERRUPTED) from None

    return wrapper


def _number(value: str, option: str, kind: type = int, minimum: float | None = None,
            default: float | None = None):
    """``value`` of ``--option`` as ``kind``, or a P2CError that says what is expected."""
    from p2c_research.errors import P2CError

    text = str(value).strip()
    if text == "" and default is not None:
        return kind(default)
    try:
        number = kind(text)
    except ValueError:
        number = None
    if number is None or number != number or (minimum is not None and number < minimum):
        what = "a whole number" if kind is int else "a number"
        floor = f" of at least {minimum:g}" if minimum is not None else ""
        raise P2CError(f"--{option} {value}: must be {what}{floor}")
    return number


class _NoHelpShortFlag(Task):
    """A task none of whose options takes ``-h`` as its short flag (everyone reads it as help)."""

    def arg_opts(self, name, default, taken_names):
        return super().arg_opts(name, default, {*taken_names, "h"})


def _split(codes: str) -> list[str]:
    return [c.strip() for c in codes.split(",") if c.strip()]


# --------------------------------------------------------------------------- reports
def _data_spec(data: str, no_itu: bool) -> str:
    return f"{data}:no-itu" if no_itu and ":" not in data else data


NO_ITU_HELP = ("CC BY-only build: leave out ITU DataHub values (CC BY-NC-SA 3.0 IGO, "
               "non-commercial); the reports say so")


@task(help={
    "country": "ISO3 code of the country, e.g. KHM",
    "params": "a params YAML to use instead of params/<ISO3>.yaml",
    "data": "sample | processed | auto (default: processed if built, else sample)",
    "out": "output folder (default: outputs/)",
    "no_itu": NO_ITU_HELP,
    "engine": "kernel (default: a fresh Jupyter kernel per notebook, as in JupyterLab) | "
              "inprocess (the batch's faster engine)",
})
@_user_errors
def run(c, country, params="", data="auto", out="", no_itu=False, engine="kernel"):
    """Run the three analysis notebooks for one country and write its HTML reports.

    Exit codes: 0 done, 1 a report failed, 2 bad input (nothing written), 130 interrupted.
    """
    from p2c_research.runner.batch import run_batch

    code = run_batch([country], out_dir=out or None, data=_data_spec(data, no_itu),
                     params_file=params or None, workers=1, local=True, engine=engine)
    if code:
        raise Exit(code=code)


@task(klass=_NoHelpShortFlag, help={
    "countries": "comma-separated ISO3 codes, e.g. KHM,MDG,DOM,MRT",
    "all": "every economy in the panel with data",
    "workers": "worker processes (default: number of cores)",
    "scheduler": "address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786",
    "security": "Dask configuration YAML with the TLS settings for --scheduler (see README)",
    "dashboard": "serve Dask's dashboard on 127.0.0.1 (off by default) and print its address",
    "out": "output folder (default: outputs/)",
    "resume": "skip countries whose reports are complete for the same params and data",
    "data": "sample | processed | auto",
    "no_itu": NO_ITU_HELP,
    "baseline": "an earlier batch's output folder: each pledge report gains a 'Since the last "
                "assessment' section, and OUT/compare.html lists every change",
})
@_user_errors
def batch(c, countries="", all=False, workers="", scheduler="", out="", resume=False,
          data="auto", no_itu=False, security="", dashboard=False, baseline=""):
    """Run the reports for many countries in parallel (Dask), then write index.html and manifest.json.

    Exit codes: 0 done, 1 a report failed, 2 bad input (nothing written), 130 interrupted.
    """
    from p2c_research.errors import P2CError
    from p2c_research.runner.batch import all_countries_with_data, check_workers, run_batch

    if all and countries:
        raise P2CError("use either --countries or --all, not both")
    n_workers = check_workers(workers)
    data = _data_spec(data, no_itu)
    codes = all_countries_with_data(data) if all else _split(countries)
    if not codes:
        raise P2CError("no countries: pass --countries A,B or --all")
    code = run_batch(codes, out_dir=out or None, data=data, workers=n_workers,
                     scheduler=scheduler or None, security=security or None,
                     dashboard=dashboard, resume=resume, baseline=baseline or None)
    if code:
        raise Exit(code=code)


@task(help={
    "old": "the earlier batch output folder (the baseline)",
    "new": "the later batch output folder",
    "out": "where to write compare.html and compare.csv (default: NEW)",
})
@_user_errors
def compare(c, old, new, out=""):
    """List what changed between two batch outputs: values, verdicts, target progress, pledges."""
    from p2c_research.reports.compare_report import write_comparison

    written = write_comparison(Path(old), Path(new), Path(out) if out else None)
    for kind, path in written.items():
        print(f"{kind}: {path}")


@task(help={"out": "the batch's output folder (default: outputs/)",
            "country": "the country whose three reports are captured (default KHM)"})
@_user_errors
def screenshots(c, out="", country="KHM"):
    """PNGs of a country's three reports, the index and the portfolio page in OUT/screenshots/."""
    from p2c_research.config import outputs_dir
    from p2c_research.countries import validate_iso3
    from p2c_research.runner.screenshots import take_screenshots

    for png in take_screenshots(Path(out) if out else outputs_dir(), validate_iso3(country)):
        print(png)


@task(help={"port": "port for JupyterLab (default 8888)", "no_browser": "do not open a browser"})
@_user_errors
def lab(c, port="8888", no_browser=False):
    """Start JupyterLab on 127.0.0.1 with the notebooks folder open."""
    port = _number(port, "port", int, minimum=1)
    flags = " --no-browser" if no_browser else ""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags += " --allow-root"  # containers and CI machines often run as root
    c.run(f"{sys.executable} -m jupyter lab --ip=127.0.0.1 --port={port}"
          f" --notebook-dir={ROOT / 'notebooks'}{flags}", pty=False)


@task(help={"k": "only tests matching this expression",
            "fast": "leave out notebook smoke, browser and slow tests (kernels, clusters, "
                    "subprocesses)"})
def test(c, k="", fast=False):
    """Run the test suite (unit, integration on ../shared/real when present, notebook smoke, browser)."""
    args = ["-q"]
    if k:
        args += ["-k", repr(k)]
    if fast:
        # Two processes, a test file each at a time (pytest-xdist): the fast tests are
        # independent CPU-bound units. The full suite runs in one process, in file order.
        args += ["-m", "'not smoke and not browser and not slow'", "-n", "2", "--dist", "loadfile"]
    c.run(f"{sys.executable} -m pytest {' '.join(args)}", pty=False)


# --------------------------------------------------------------------------- data
@task(help={"source": "folder with World Bank WDI CSVs and Natural Earth 110m admin-0",
            "out": "output folder (default: data/sample)"})
@_user_errors
def sample(c, source, out=""):
    """Build the embedded sample (WDI panel, Natural Earth, synthetic pledges) from real files."""
    from p2c_research.sample import SampleBuilder

    print(SampleBuilder(Path(source), Path(out) if out else None).run().summary())


@task(help={
    "source": "worldbank | sdg | itu | wdi-csv | naturalearth | pledges",
    "base_url": "API base URL (tests and mirrors)",
    "path": "input file or folder (wdi-csv, itu exports, pledges)",
    "mapping": "column-mapping YAML for a pledge file in another layout",
    "strict": "pledges: fail on any bad row instead of keeping the valid rows",
    "refresh": "ignore the raw cache and fetch again",
    "start": "first year (default 2000, so trends have history)",
    "end": "last year (default: the current year)",
    "codes": "comma-separated publisher codes to fetch instead of every catalog code",
    "timeout": "seconds before an HTTP request times out (default 60)",
    "retries": "retries on 5xx and time-outs, with exponential backoff (default 3)",
    "countries": "comma-separated ISO3 codes to restrict per-country sources",
    "ttl": "hours a cached response stays fresh (default 24)",
})
@_user_errors
def fetch(c, source, base_url="", path="", mapping="", strict=False, refresh=False,
          start="", end="", countries="", ttl="24", codes="", timeout="60", retries="3"):
    """Fetch one real source into data/raw/<source>/ (cached, with provenance)."""
    from p2c_research.sources.fetch import fetch_source

    report = fetch_source(
        source, base_url=base_url or None, refresh=refresh, path=path or None,
        mapping=mapping or None, strict=strict,
        start=_number(start, "start", int, minimum=0, default=0) or None,
        end=_number(end, "end", int, minimum=0, default=0) or None,
        countries=_split(countries) or None, ttl_hours=_number(ttl, "ttl", float, minimum=0),
        codes=_split(codes) or None, timeout=_number(timeout, "timeout", float, minimum=0.1),
        retries=_number(retries, "retries", int, minimum=0),
    )
    print(report.summary())


@task
@_user_errors
def build(c):
    """Combine the raw cache into data/processed/panel.parquet (documented source precedence)."""
    from p2c_research.build import build_processed

    print(build_processed().summary())


@task(help={
    "source": "ITU-D region CSV iso3,name,itu_region, e.g. ../shared/real/itu_regions.csv",
    "datahub": "refresh from ITU DataHub's v2/country/all instead (the authoritative list)",
    "base_url": "DataHub base URL with --datahub (tests and mirrors)",
    "out": "output folder (default: p2c_research/resources, committed)",
    "min_members": "refuse a list shorter than this (default 180; ITU has 194 members)",
    "timeout": "seconds before the DataHub request times out (default 60)",
    "retries": "retries on 5xx and time-outs (default 3)",
})
@_user_errors
def regions(c, source="", datahub=False, base_url="", out="", min_members="", timeout="60",
            retries="3"):
    """Build the ITU-D region list (resources/itu_regions.csv + provenance) from a CSV or ITU DataHub."""
    from p2c_research import regions_build
    from p2c_research.sources.http import HttpClient, HttpSettings

    if bool(source) == bool(datahub):
        raise Exit("pass either --source FILE or --datahub", code=2)
    kwargs = {"min_members": _number(min_members, "min-members", int, minimum=0, default=0)
              or regions_build.MIN_MEMBERS}
    if datahub:
        client = HttpClient(HttpSettings(timeout=_number(timeout, "timeout", float, minimum=0.1),
                                         retries=_number(retries, "retries", int, minimum=0)))
        built = regions_build.build_from_datahub(base_url or None, out or None, client=client,
                                                 **kwargs)
    else:
        built = regions_build.build_from_csv(Path(source), out or None, **kwargs)
    print(built.summary())


@task(help={
    "metadata": "World Bank Metadata_Country_*.csv from a bulk download",
    "wdi_long": "folder of WDI long CSVs (Country Name,Country Code,...) whose names become aliases",
    "out": "output folder (default: p2c_research/resources, committed)",
})
@_user_errors
def countries(c, metadata, wdi_long="", out=""):
    """Build the country reference (countries, aggregates, aliases; UN groups from resources)."""
    from p2c_research.config import RESOURCES_DIR
    from p2c_research.countries_build import CountryReferenceBuilder

    built = CountryReferenceBuilder(Path(metadata), Path(wdi_long) if wdi_long else None,
                                    Path(out) if out else RESOURCES_DIR).run()
    print(built.summary())


@task(help={"old": "older panel parquet", "new": "newer panel parquet"})
@_user_errors
def diff(c, old, new):
    """Report the values that changed, appeared or vanished between two panel files."""
    from p2c_research.build import diff_panels, format_diff

    print(format_diff(diff_panels(Path(old), Path(new))))


# --------------------------------------------------------------------------- params, docs
@task(name="check", help={"folder": "params folder (default: params/)"})
def params_check(c, folder=""):
    """Validate params/defaults.yaml and every params/<ISO3>.yaml."""
    from p2c_research.params import check_all, shipped_param_files

    directory = Path(folder) if folder else None
    failures = check_all(directory)
    for path, error in failures:
        print(f"FAIL {path}\n  {error}", file=sys.stderr)
    n = len(shipped_param_files(directory)) + 1
    if failures:
        raise Exit(f"{len(failures)} of {n} params file(s) invalid", code=2)
    print(f"ok: {n} params file(s) valid")


@task(name="indicators")
def docs_indicators(c):
    """Generate docs/indicators.md from the packaged indicator catalog."""
    from p2c_research.docs import IndicatorDocsBuilder

    print(IndicatorDocsBuilder().run().summary())


data_ns = Collection("data", sample, fetch, build, diff, regions, countries)
params_ns = Collection("params", params_check)
docs_ns = Collection("docs", docs_indicators)
ns = Collection(run, batch, compare, screenshots, lab, test, data_ns, params_ns, docs_ns)
