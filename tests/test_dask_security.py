"""A shared Dask scheduler secured with TLS: ``--security FILE`` and clear errors.

The certificates are made with the ``openssl`` command line for 127.0.0.1;
the scheduler and worker are Dask's own command-line programs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from p2c_research.errors import P2CError
from p2c_research.runner.batch import connect_scheduler, scheduler_security

pytestmark = pytest.mark.slow  # a TLS scheduler and workers

OPENSSL = shutil.which("openssl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    if OPENSSL is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=p2c test CA", "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "key.pem", "-out", "cert.csr", cwd=folder)
    _openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
             "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "cert.pem",
             cwd=folder)
    return folder


def _security_yaml(folder: Path, certs: Path) -> Path:
    path = folder / "dask-tls.yaml"
    path.write_text(
        "distributed:\n  comm:\n    require-encryption: true\n    tls:\n"
        f"      ca-file: {certs / 'ca.pem'}\n"
        f"      client:\n        cert: {certs / 'cert.pem'}\n        key: {certs / 'key.pem'}\n")
    return path


@pytest.fixture(scope="module")
def tls_scheduler(certificates):
    dask_bin = Path(sys.executable).parent / "dask"
    if not dask_bin.exists():
        pytest.skip("dask command line not installed")
    port = _free_port()
    tls = ["--tls-ca-file", str(certificates / "ca.pem"), "--tls-cert",
           str(certificates / "cert.pem"), "--tls-key", str(certificates / "key.pem")]
    sched = subprocess.Popen([str(dask_bin), "scheduler", "--protocol", "tls", "--host",
                              "127.0.0.1", "--port", str(port), "--no-dashboard", *tls],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        address = f"tls://127.0.0.1:{port}"
        worker = subprocess.Popen([str(dask_bin), "worker", address, "--nthreads", "1",
                                   "--no-dashboard", *tls],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield address
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_a_tls_scheduler_accepts_a_client_with_the_security_file(tls_scheduler, certificates,
                                                                  tmp_path):
    client = connect_scheduler(tls_scheduler, _security_yaml(tmp_path, certificates))
    try:
        assert client.submit(sum, [1, 2, 3], pure=False).result(timeout=60) == 6
    finally:
        client.close()


def test_a_tls_scheduler_refuses_a_client_without_it(tls_scheduler):
    import dask

    plain = tls_scheduler.replace("tls://", "tcp://")
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}), \
            pytest.raises(P2CError, match=r"--scheduler tcp://127\.0\.0\.1:\d+: .*--security"):
        connect_scheduler(plain)
    with pytest.raises(P2CError, match=r"--scheduler tls://127\.0\.0\.1:\d+: "):
        connect_scheduler(tls_scheduler)


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    ("distributed: [unclosed\n", "not a readable YAML file"),
    ("distributed:\n  scheduler:\n    allowed-failures: 3\n", "no TLS settings"),
    ("distributed:\n  comm:\n    tls:\n      ca-file: /nowhere/ca.pem\n",
     r"distributed\.comm\.tls\.ca-file names /nowhere/ca\.pem, which does not exist"),
])
def test_a_bad_security_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "security.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(P2CError, match=rf"--security .*security\.yaml: .*{message}"):
        scheduler_security(path)
