"""Reports and the explorer in a real browser (Debian's chromium driven by playwright).

1. The generated HTML reports and the index page: no console errors, the wheel
   image and the tables are there, no code is visible, every index link opens.
2. JupyterLab on a free port on 127.0.0.1: open the explorer, run all cells,
   change the country and check that the chart changes.

Screenshots go to ``outputs/screenshots/`` for reviewers. Skipped when chromium
or playwright is missing (``.ci/run`` installs chromium with apt).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPORTS = ("01_landscape.html", "02_benchmarking.html", "03_pledge_gap_map.html")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def screenshots(project_root) -> Path:
    folder = project_root / "outputs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory) -> Path:
    """Real reports for two countries (one data-sparse), plus the index page."""
    from p2c_research.runner.batch import run_batch

    out = tmp_path_factory.mktemp("reports")
    code = run_batch(["KHM", "TUV"], out_dir=out, data="sample", local=True, progress=False)
    assert code == 0, (out / "manifest.json").read_text()
    return out


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    return errors


@pytest.mark.parametrize("report", REPORTS)
def test_report_opens_cleanly_with_figures_tables_and_no_code(browser, batch_out, screenshots,
                                                              report):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _watch_console(page)
    page.goto((batch_out / "KHM" / report).as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    code_inputs = ".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-Editor, .jp-CodeMirrorEditor"
    assert page.locator(code_inputs).count() == 0, "code is visible"
    assert page.locator("pre:has-text('open_context(')").count() == 0
    images = page.locator(".jp-OutputArea-output img")
    assert images.count() >= 1
    widths = [images.nth(k).evaluate("el => el.naturalWidth") for k in range(images.count())]
    assert max(widths) > 300, "figures did not decode"
    # Each figure's alt text is its own title, not the exporter's generic one.
    alts = [images.nth(k).get_attribute("alt") for k in range(images.count())]
    assert "Report figure" not in alts and len(set(alts)) == len(alts), alts
    assert sum("Cambodia" in a for a in alts) >= 2, alts
    assert page.locator("table").count() >= 1
    text = page.inner_text("body")
    assert "Cambodia" in text and "Data:" in text
    if report == "01_landscape.html":
        assert page.locator("img[src^='data:image/png']").count() >= 1  # the wheel, embedded
    if report == "03_pledge_gap_map.html":
        assert "SYNTHETIC" in text.split("Data:", 1)[0] + text[:2000]
    page.screenshot(path=str(screenshots / f"KHM_{report.replace('.html', '')}.png"),
                    full_page=False)
    page.close()


def test_index_page_links_resolve_offline(browser, batch_out, screenshots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _watch_console(page)
    page.goto((batch_out / "index.html").as_uri())
    assert errors == []
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    reports = [h for h in hrefs if h.endswith(".html") and "/" in h]
    assert len(reports) == 6  # 2 countries x 3 reports
    assert "portfolio.html" in hrefs
    wheels = page.locator("img.wheel")
    assert wheels.count() == 2
    assert all(wheels.nth(k).evaluate("el => el.naturalWidth") > 50 for k in range(2))
    page.screenshot(path=str(screenshots / "index.png"), full_page=True)
    for href in hrefs:
        if href.startswith("#"):  # the full-size wheel of a country, on this page
            assert page.locator(f"[id='{href[1:]}']").count() == 1, href
            continue
        target = (batch_out / href).resolve()
        assert target.exists(), href
    for href in reports:
        sub = browser.new_page()
        sub_errors = _watch_console(sub)
        sub.goto((batch_out / href).as_uri())
        assert sub_errors == [], href
        sub.close()
    page.close()


# --------------------------------------------------------------------------- JupyterLab
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(project_root, tmp_path):
    port = _free_port()
    # Serve a copy: JupyterLab autosaves, and the committed notebooks must stay output-free.
    root = tmp_path / "notebooks"
    shutil.copytree(project_root / "notebooks", root)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    # The explorer notebook runs in a kernel of this interpreter.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
           "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
           f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _accept_dialog(page) -> None:
    """Accept a JupyterLab dialog in the way, as a user would.

    On a loaded machine the kernel can take long enough to start that
    JupyterLab asks which kernel to use ("Select Kernel"); its default button
    starts the notebook's own kernel. The dialog blocked the menu in one run.
    """
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        accept = dialog.first.locator("button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        dialog.first.wait_for(state="hidden", timeout=10_000)


def _run_all_cells(page) -> None:
    """Run > Run All Cells, with the notebook focused first (menu commands act on it)."""
    _accept_dialog(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    for _attempt in range(3):
        _accept_dialog(page)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        item = page.get_by_text("Run All Cells", exact=True)
        item.wait_for(timeout=10_000)
        item.click()
        try:  # a cell shows [*] or a number once the kernel takes the request
            page.locator(".jp-InputPrompt:has-text('[*]'), .jp-InputPrompt:has-text('[1]')").first \
                .wait_for(timeout=60_000)
            return
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError("JupyterLab did not start running the cells")


def _wheel_src(page) -> str:
    img = page.locator(".widget-output img").first
    img.wait_for(timeout=300_000)
    return img.get_attribute("src") or ""


def test_explorer_runs_in_jupyterlab_and_follows_the_country_widget(browser, jupyterlab,
                                                                     screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{jupyterlab}/lab/tree/00_explorer.ipynb")
    page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    # Wait for the kernel before running, then Run > Run All Cells.
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
        timeout=120_000)
    try:
        _run_all_cells(page)
        country = page.locator(".widget-dropdown:has(label:text-is('Country')) select")
        country.wait_for(timeout=300_000)
        before = _wheel_src(page)
    except Exception:
        page.screenshot(path=str(screenshots / "explorer_failure.png"), full_page=True)
        raise
    assert before.startswith("data:image/png")
    page.screenshot(path=str(screenshots / "explorer_KHM.png"), full_page=True)
    country.select_option(label="Madagascar (MDG)")
    deadline = time.time() + 300
    after = before
    while time.time() < deadline and after == before:
        time.sleep(1)
        after = _wheel_src(page)
    assert after != before, "the wheel did not change after choosing another country"
    # the status line is written once the scatter and the map are redrawn too
    page.locator(".widget-html:has-text('Showing Madagascar (MDG)')").first.wait_for(
        timeout=180_000)
    page.screenshot(path=str(screenshots / "explorer_MDG.png"), full_page=True)
    page.close()
