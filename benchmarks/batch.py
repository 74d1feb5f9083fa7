"""Batch benchmark: the naive papermill/nbconvert CLI loop against `invoke batch`, in one run.

Both start from an empty results cache in their own output folder, on the same
countries and the same data, so the ratio compares like with like on this
machine at this moment:

(a) naive: for each country and notebook, the ``papermill`` CLI, then
    ``jupyter nbconvert --to html --no-input`` (a new Python process and a new
    kernel every time);
(b) ``invoke batch --countries ...`` (Dask LocalCluster of processes, shared
    all-country work computed once, notebooks run inside the worker processes,
    in-process HTML).

Optionally (``--all``) it also times a full batch of every economy with data and
prints the time per country. Peak memory per worker is sampled with psutil
(each worker process and anything below it). Prints figures; asserts nothing.

    python benchmarks/batch.py                 # 8 countries, (a) vs (b)
    python benchmarks/batch.py --all           # plus the full batch
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COUNTRIES = "KHM,MDG,DOM,MRT,KEN,PER,VNM,TUV"
NOTEBOOKS = ["01_landscape.ipynb", "02_benchmarking.ipynb", "03_pledge_gap_map.ipynb"]


class MemorySampler:
    """Samples the RSS of every descendant process; reports the peak per worker process tree.

    With the in-process engine a worker runs its notebooks in its own process (no kernel
    below it); anything a worker starts below itself is still counted with it.
    """

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak_tree_mb: dict[int, float] = {}
        #: at each tree's peak: (worker process, processes below it), MiB
        self.peak_split: dict[int, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def report(self) -> str:
        """The peaks, largest first (with what ran below a worker, if anything did)."""
        roots = sorted(self.peak_tree_mb, key=self.peak_tree_mb.get, reverse=True)[:4]
        return ", ".join(f"{self.peak_tree_mb[r]:.0f} MiB" + (
            f" (worker {self.peak_split[r][0]:.0f} + below it {self.peak_split[r][1]:.0f})"
            if self.peak_split[r][1] else "") for r in roots)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                # me -> invoke process -> worker processes (and multiprocessing's
                # resource tracker, which is not a worker)
                for child in me.children(recursive=False):
                    for tree_root in child.children(recursive=False):
                        with contextlib.suppress(psutil.Error):
                            if "resource_tracker" in " ".join(tree_root.cmdline()):
                                continue
                        own, below = 0.0, 0.0
                        with contextlib.suppress(psutil.Error):
                            own = tree_root.memory_info().rss / 2**20
                        for p in tree_root.children(recursive=True):
                            with contextlib.suppress(psutil.Error):
                                below += p.memory_info().rss / 2**20
                        mb = own + below
                        if mb > self.peak_tree_mb.get(tree_root.pid, 0.0):
                            self.peak_tree_mb[tree_root.pid] = mb
                            self.peak_split[tree_root.pid] = (own, below)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)


def run_naive(codes: list[str], out: Path, env: dict) -> float:
    bindir = Path(sys.executable).parent
    t0 = time.perf_counter()
    for code in codes:
        (out / code).mkdir(parents=True, exist_ok=True)
        for nb in NOTEBOOKS:
            executed = out / code / nb
            subprocess.run([str(bindir / "papermill"), str(ROOT / "notebooks" / nb), str(executed),
                            "-p", "country", code, "-p", "out_dir", str(out), "-p", "data", "sample",
                            "--cwd", str(ROOT / "notebooks"), "-k", "python3", "--no-progress-bar"],
                           check=True, env=env, capture_output=True)
            subprocess.run([str(bindir / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                            str(executed)], check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def run_batch(codes: list[str] | None, out: Path, env: dict, workers: int) -> float:
    sel = ["--all"] if codes is None else ["--countries", ",".join(codes)]
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "invoke", "batch", *sel, "--workers", str(workers),
                          "--out", str(out), "--data", "sample"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], sep="\n")
        print(f"batch exited {res.returncode}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--countries", default=DEFAULT_COUNTRIES)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--all", action="store_true", help="also time a full --all batch")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    codes = [c.strip() for c in args.countries.split(",") if c.strip()]
    work = Path(tempfile.mkdtemp(prefix="p2c-bench-"))
    print(f"countries: {len(codes)} ({','.join(codes)}); workers: {args.workers}; "
          f"cores: {os.cpu_count()}; scratch: {work}")

    def env_for(name: str) -> dict:
        return {**os.environ, "P2C_CACHE": str(work / f"cache-{name}"), "MPLBACKEND": "Agg"}

    naive = None
    if not args.skip_naive:
        naive = run_naive(codes, work / "naive", env_for("naive"))
        print(f"(a) naive papermill + nbconvert CLI loop: {naive:8.1f} s "
              f"({naive / len(codes):.1f} s per country)")
    with MemorySampler() as mem:
        batch = run_batch(codes, work / "batch", env_for("batch"), args.workers)
    print(f"(b) invoke batch:                          {batch:8.1f} s "
          f"({batch / len(codes):.1f} s per country)")
    if naive is not None:
        print(f"ratio (a)/(b): {naive / batch:.2f}x")
    if mem.peak_tree_mb:
        print("peak memory per worker process, largest first: "
              + mem.report())
    if args.all:
        with MemorySampler() as mem_all:
            full = run_batch(None, work / "all", env_for("all"), args.workers)
        n = sum(1 for p in (work / "all").iterdir() if p.is_dir())
        print(f"full batch --all: {full:.1f} s for {n} countries "
              f"({full / max(n, 1):.2f} s per country)")
        if mem_all.peak_tree_mb:
            print("peak memory per worker (--all), largest first: " + mem_all.report())


if __name__ == "__main__":
    main()
