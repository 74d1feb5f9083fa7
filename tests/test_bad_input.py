"""Every bad input of the command line: exit code 2, one line on stderr, no traceback,
and nothing written (the output folder, the data and the caches are as they were).

The tasks run in this process through invoke's own ``Program`` (as ``invoke ...`` runs
them), on a copy of the project's params and sample, so a case can damage a file or
simulate a full disk. Two cases also run as real ``invoke`` commands.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _tasks_namespace():
    spec = importlib.util.spec_from_file_location("p2c_tasks_under_test", PROJECT_ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ns


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A project tree: the real params and notebooks, a copy of the sample, a cache of its own."""
    if not (PROJECT_ROOT / "data" / "sample" / "panel.parquet").exists():
        pytest.skip("embedded sample not built")
    root = tmp_path / "proj"
    shutil.copytree(PROJECT_ROOT / "params", root / "params")
    shutil.copytree(PROJECT_ROOT / "data" / "sample", root / "data" / "sample")
    os.symlink(PROJECT_ROOT / "notebooks", root / "notebooks")
    monkeypatch.setenv("P2C_ROOT", str(root))
    monkeypatch.setenv("P2C_CACHE", str(root / ".p2c-cache"))
    return root


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if not p.is_symlink()}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _no_space(monkeypatch, root: Path) -> None:
    """A full disk under ``root``: creating a folder or a file there fails with ENOSPC."""
    import tempfile

    from p2c_research import store

    real_mkdir, real_mkstemp = os.mkdir, tempfile.mkstemp

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(root)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_mkdir(path, *args, **kwargs)

    def mkstemp(*args, dir=None, **kwargs):
        if str(dir).startswith(str(root)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(store.tempfile, "mkstemp", mkstemp)


def _read_only(monkeypatch, folder: Path) -> None:
    """``folder`` read-only: mode 0555, and for root (who may write anyway) the answer the
    system gives on a read-only mount."""
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder
                            and mode & os.W_OK else real_access(p, mode, **kw))


# id -> (arguments, set-up(root, tmp, monkeypatch), words the message must hold)
CASES = {
    "out is a file": (
        ["run", "--country", "KHM", "--out", "{tmp}/a-file"],
        lambda root, tmp, mp: (tmp / "a-file").write_text("not a folder"),
        ["a-file: is a file, not a folder; pass a folder to --out"]),
    "out is read-only": (
        ["run", "--country", "KHM", "--out", "{tmp}/ro/reports"],
        lambda root, tmp, mp: _read_only(mp, tmp / "ro"),
        ["/ro: read-only or no permission to write there; choose another folder with --out"]),
    "params is a folder": (
        ["run", "--country", "KHM", "--params", "{tmp}", "--out", "{tmp}/out"],
        None, ["is a folder, not a params file"]),
    "params file over 1 MB": (
        ["run", "--country", "KHM", "--params", "{tmp}/big.yaml", "--out", "{tmp}/out"],
        lambda root, tmp, mp: (tmp / "big.yaml").write_text(
            "country: KHM\nnotes: |\n" + "  padding padding padding\n" * 45_000),
        ["big.yaml: 1,", "bytes, over the 1,000,000-byte limit for a params file"]),
    "misspelt params key": (
        ["run", "--country", "KHM", "--params", "{tmp}/bad.yaml", "--out", "{tmp}/out"],
        lambda root, tmp, mp: (tmp / "bad.yaml").write_text("country: KHM\nrefrence_year: 1\n"),
        ["bad.yaml: unknown key 'refrence_year'; did you mean 'reference_year'?"]),
    "unknown country code": (
        ["run", "--country", "KHN", "--out", "{tmp}/out"], None,
        ["unknown country code 'KHN'; did you mean KHM (Cambodia)"]),
    "one unknown code in a batch": (
        ["batch", "--countries", "KHM,KHN", "--out", "{tmp}/out"], None,
        ["unknown country code 'KHN'"]),
    "truncated panel": (
        ["run", "--country", "KHM", "--data", "sample", "--out", "{tmp}/out"],
        lambda root, tmp, mp: _truncate(root / "data" / "sample" / "panel.parquet"),
        ["panel.parquet: not a readable parquet file, truncated or corrupt",
         "rebuild it with `invoke data.sample`"]),
    "corrupt pledges": (
        ["run", "--country", "KHM", "--data", "sample", "--out", "{tmp}/out"],
        lambda root, tmp, mp: (root / "data" / "sample" / "pledges.parquet").write_bytes(
            b"PAR1 this is not parquet PAR1"),
        ["pledges.parquet: not a readable parquet file"]),
    "truncated panel through data.diff": (
        ["data.diff", "{root}/data/sample/panel.parquet", "{tmp}/new.parquet"],
        lambda root, tmp, mp: (shutil.copy(root / "data" / "sample" / "panel.parquet",
                                           tmp / "new.parquet"), _truncate(tmp / "new.parquet")),
        ["new.parquet: not a readable parquet file, truncated or corrupt",
         "pass a complete panel file"]),
    "invalid provenance sidecar": (
        ["run", "--country", "KHM", "--data", "sample", "--out", "{tmp}/out"],
        lambda root, tmp, mp: (root / "data" / "sample" / "panel.parquet.provenance.json"
                               ).write_text('{"source": "WDI", '),
        ["panel.parquet.provenance.json: not a readable provenance sidecar",
         "delete it and rebuild or fetch the file beside it again"]),
    "disk full": (
        ["run", "--country", "KHM", "--out", "{tmp}/out"],
        lambda root, tmp, mp: _no_space(mp, tmp),
        ["/out: cannot write it (No space left on device); the disk is full"]),
    "workers not a number": (
        ["batch", "--countries", "KHM,MDG", "--workers", "abc", "--out", "{tmp}/out"], None,
        ["--workers abc: the number of worker processes must be a whole number from 1"]),
    "workers negative": (
        ["batch", "--countries", "KHM,MDG", "--workers", "-1", "--out", "{tmp}/out"], None,
        ["--workers -1: the number of worker processes must be a whole number from 1"]),
    "unreachable scheduler": (
        ["batch", "--countries", "KHM,MDG", "--scheduler", "tcp://127.0.0.1:{port}",
         "--out", "{tmp}/out"], None,
        ["cannot reach the Dask scheduler", "start one with `dask scheduler`"]),
    "malformed scheduler address": (
        ["batch", "--countries", "KHM,MDG", "--scheduler", "tcp://nowhere:port",
         "--out", "{tmp}/out"], None,
        ["--scheduler tcp://nowhere:port: not an address like tcp://HOST:PORT"]),
    "fetch option not a number": (
        ["data.fetch", "--source", "worldbank", "--retries", "many"], None,
        ["--retries many: must be a whole number of at least 0"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, tree, tmp_path, monkeypatch,
                                                           capfd):
    from invoke import Program

    args, setup, expected = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    if setup is not None:
        setup(tree, work, monkeypatch)
    argv = [a.format(tmp=work, root=tree, port=_closed_port()) for a in args]
    before = {"tree": _snapshot(tree), "work": _snapshot(work)}
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        Program(namespace=_tasks_namespace(), version="test").run(["invoke", *argv])
    out, err = capfd.readouterr()
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for words in expected:
        assert words in lines[0], lines[0]
    assert "Traceback" not in err + out
    monkeypatch.undo()  # before looking: the disk is no longer "full"
    assert {"tree": _snapshot(tree), "work": _snapshot(work)} == before


@pytest.mark.parametrize("argv", [["run", "--country", "KHN"],
                                  ["batch", "--countries", "KHM,MDG", "--workers", "abc"]])
@pytest.mark.slow  # subprocesses
def test_as_real_commands(argv, tree, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "invoke", *argv, "--out", str(out)],
                          cwd=PROJECT_ROOT, env={**os.environ}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not out.exists()
    assert not (tree / "outputs").exists()
