"""CPU per country of the three reports' cells, two configurations side by side.

A full batch is bound by the kernels' CPU, so this measures just that: the code
cells of notebooks 01-03 run in an IPython shell (the same code a kernel runs,
without the messaging), for each country in turn, after warm-up countries that
fill the process's caches as a long batch does. Between two notebooks the
shell is reset as a batch worker resets it. The world fits and scores are
computed during the warm-up, into the run's own cache folder, and not counted.

Each configuration runs in its own fresh process, and the two run at the same
time, one per core, so that both see the same machine: on a shared virtual
machine the CPU time of one configuration drifts by 5-10% between runs a few
minutes apart. Prints CPU seconds per country, peak memory and the ratio B/A,
per round and overall; asserts nothing.

Comparisons (``--compare``):

- ``reuse``: the batch figure pool (``p2c_research.render.reuse``) on / off;
- ``text-cache``: the text cache (``p2c_research.render.text_cache``) on / off
  (on only where it is verified);
- ``glyphs``: on matplotlib 3.11, the text cache's glyph bitmaps on / off;
- ``storage``: pandas' default string storage python / pyarrow for the user's
  own Series (the package sets its own panels' dtype);
- ``python``: the same code under two interpreters (``--python-b``), e.g. a
  venv with another matplotlib.

    python benchmarks/report_cpu.py --compare reuse
    python benchmarks/report_cpu.py --compare python --python-b /tmp/mpl311/bin/python
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_landscape", "02_benchmarking", "03_pledge_gap_map"]
WARM = "BRA,IND"
COUNTRIES = "KHM,MDG,DOM,MRT,KEN,PER"
CONFIGS = {
    "reuse": ("on", "off"),
    "text-cache": ("on", "off"),
    "glyphs": ("on", "off"),
    "storage": ("python", "pyarrow"),
    "python": ("a", "b"),
}


def _configure(compare: str, setting: str) -> None:
    """Applied in the measured process before any report code runs."""
    if compare == "storage":
        import pandas as pd

        pd.set_option("mode.string_storage", setting)
    elif compare == "reuse" and setting == "off":
        from p2c_research.render import reuse

        reuse.release_all = lambda: None  # the pool is never switched on
    elif compare == "text-cache" and setting == "off":
        from p2c_research.render import text_cache

        text_cache.ACTIVE = False
    elif compare == "glyphs" and setting == "off":
        from p2c_research.render import text_cache

        text_cache.KEEP_GLYPHS = False


def child(compare: str, setting: str, warm: list[str], codes: list[str], out: str) -> None:
    """Runs in the measured process: prints CPU seconds per country and peak RSS as JSON."""
    _configure(compare, setting)
    import matplotlib
    from IPython.core.interactiveshell import InteractiveShell

    matplotlib.use("Agg")
    from p2c_research.render import reuse, text_cache
    from p2c_research.runner.kernel_reset import reset_user_namespace

    shell = InteractiveShell.instance()
    cells = {}
    for name in NOTEBOOKS:
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        cells[name] = code[1:]  # the first is the parameters cell, injected below instead
    cpu = []
    for code in warm + codes:
        t0 = time.process_time()
        for name in NOTEBOOKS:
            reset_user_namespace()
            shell.user_ns.update(country=code, params_file="", data="sample", out_dir=out)
            for src in cells[name]:
                with contextlib.redirect_stdout(io.StringIO()):
                    result = shell.run_cell(src, silent=False, store_history=False)
                if result.error_in_exec:
                    raise result.error_in_exec
        cpu.append(time.process_time() - t0)
    print(json.dumps({
        "setting": setting,
        "cpu": cpu[len(warm):],
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "matplotlib": matplotlib.__version__,
        "text_cache_active": text_cache.ACTIVE,
        "figures_reused": reuse.stats["reused"],
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", choices=sorted(CONFIGS), default="reuse")
    ap.add_argument("--python-b", default="", help="interpreter of configuration b "
                    "(--compare python); a is this one")
    ap.add_argument("--countries", default=COUNTRIES)
    ap.add_argument("--warm", default=WARM, help="countries run first and not counted")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of processes, one after another")
    ap.add_argument("--child", nargs=3, metavar=("COMPARE", "SETTING", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    codes = [c for c in args.countries.split(",") if c]
    warm = [c for c in args.warm.split(",") if c]
    if args.child:
        child(args.child[0], args.child[1], warm, codes, args.child[2])
        return
    if args.compare == "python" and not args.python_b:
        sys.exit("--compare python needs --python-b INTERPRETER")
    a, b = CONFIGS[args.compare]
    work = Path(tempfile.mkdtemp(prefix="p2c-report-cpu-"))
    print(f"compare {args.compare}: {a} / {b}; countries {','.join(codes)} after warm-up "
          f"{','.join(warm)}; rounds {args.rounds}; scratch {work}")
    per_country: dict[str, list[float]] = {a: [], b: []}
    peaks: dict[str, list[float]] = {a: [], b: []}
    for r in range(args.rounds):
        runs = {}
        for setting in (a, b):
            python = args.python_b if setting == "b" and args.compare == "python" \
                else sys.executable
            env = {**os.environ, "P2C_CACHE": str(work / f"cache-{setting}-{r}"),
                   "MPLBACKEND": "Agg"}
            runs[setting] = subprocess.Popen(
                [python, __file__, "--countries", ",".join(codes), "--warm", ",".join(warm),
                 "--child", args.compare, setting, str(work / f"out-{setting}")],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for setting, proc in runs.items():
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"{setting} run failed:\n{stderr[-3000:]}")
            got = json.loads(stdout.strip().splitlines()[-1])
            mean = statistics.fmean(got["cpu"])
            per_country[setting].append(mean)
            peaks[setting].append(got["peak_mib"])
            print(f"round {r + 1} {setting:8s} {mean:6.2f} s CPU per country "
                  f"(min {min(got['cpu']):.2f}, max {max(got['cpu']):.2f}), peak "
                  f"{got['peak_mib']:.0f} MiB; matplotlib {got['matplotlib']}, text cache "
                  f"{'on' if got['text_cache_active'] else 'off'}, figures reused "
                  f"{got['figures_reused']}", flush=True)
        print(f"round {r + 1} ratio {b} / {a}: "
              f"{per_country[b][-1] / per_country[a][-1]:.3f}x", flush=True)
    mean_a, mean_b = statistics.fmean(per_country[a]), statistics.fmean(per_country[b])
    print(f"{a}: {mean_a:6.2f} s CPU per country, peak {max(peaks[a]):.0f} MiB")
    print(f"{b}: {mean_b:6.2f} s CPU per country, peak {max(peaks[b]):.0f} MiB")
    print(f"ratio {b} / {a}: {mean_b / mean_a:.3f}x")


if __name__ == "__main__":
    main()
