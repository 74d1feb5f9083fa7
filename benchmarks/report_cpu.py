"""CPU per country of the three reports' cells, in one process, under pandas' two string storages.

A full batch is bound by the kernels' CPU, so this measures just that: the code
cells of notebooks 01-03 run in an IPython shell (the same code a kernel runs,
without the messaging), for each country in turn, after warm-up countries that
fill the process's caches as a long batch does. The world fits and scores are
computed during the warm-up, into the run's own cache folder, and not counted.
Each storage runs in its own fresh process, and the two run at the same time,
one per core, so that both see the same machine: on this shared virtual
machine the CPU time of one configuration drifts by 5-10% between runs a few
minutes apart. Prints CPU seconds per country and the ratio against pyarrow,
the pandas 3 default, per round and overall; asserts nothing.

    python benchmarks/report_cpu.py                       # 6 countries after 2 of warm-up
    python benchmarks/report_cpu.py --rounds 1 --countries KHM,KEN,PER,VNM
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
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


def child(storage: str, warm: list[str], codes: list[str], out: str) -> None:
    """Runs in the measured process: prints the CPU seconds per country as JSON."""
    import pandas as pd

    pd.set_option("mode.string_storage", storage)  # before the package: it keeps a choice
    import matplotlib
    from IPython.core.interactiveshell import InteractiveShell

    matplotlib.use("Agg")
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
    print(json.dumps({"storage": pd.Series(["x"]).dtype.storage, "cpu": cpu[len(warm):]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--countries", default=COUNTRIES)
    ap.add_argument("--warm", default=WARM, help="countries run first and not counted")
    ap.add_argument("--rounds", type=int, default=2, help="processes per storage, alternating")
    ap.add_argument("--child", nargs=2, metavar=("STORAGE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    codes = [c for c in args.countries.split(",") if c]
    warm = [c for c in args.warm.split(",") if c]
    if args.child:
        child(args.child[0], warm, codes, args.child[1])
        return
    work = Path(tempfile.mkdtemp(prefix="p2c-report-cpu-"))
    print(f"countries: {','.join(codes)} after warm-up {','.join(warm)}; rounds: {args.rounds}; "
          f"scratch: {work}")
    per_country: dict[str, list[float]] = {"python": [], "pyarrow": []}
    for r in range(args.rounds):
        runs = {}
        for storage in ("python", "pyarrow"):
            env = {**os.environ, "P2C_CACHE": str(work / f"cache-{storage}-{r}"),
                   "MPLBACKEND": "Agg"}
            runs[storage] = subprocess.Popen(
                [sys.executable, __file__, "--countries", ",".join(codes),
                 "--warm", ",".join(warm), "--child", storage, str(work / f"out-{storage}")],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for storage, proc in runs.items():
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"{storage} run failed:\n{stderr[-3000:]}")
            got = json.loads(stdout.strip().splitlines()[-1])
            assert got["storage"] == storage, got
            mean = statistics.fmean(got["cpu"])
            per_country[storage].append(mean)
            print(f"round {r + 1} {storage:8s} {mean:6.2f} s CPU per country "
                  f"(min {min(got['cpu']):.2f}, max {max(got['cpu']):.2f})", flush=True)
        print(f"round {r + 1} ratio pyarrow / python: "
              f"{per_country['pyarrow'][-1] / per_country['python'][-1]:.2f}x", flush=True)
    py, pa = statistics.fmean(per_country["python"]), statistics.fmean(per_country["pyarrow"])
    print(f"python strings:  {py:6.2f} s CPU per country")
    print(f"pyarrow strings: {pa:6.2f} s CPU per country (pandas 3 default)")
    print(f"ratio pyarrow / python: {pa / py:.2f}x")


if __name__ == "__main__":
    main()
