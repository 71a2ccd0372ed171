"""The notebooks work where students use them: JupyterLab in a real browser, with progress bars and figures.

Starts JupyterLab (as README command 1 does) on a copy of the notebooks, opens chapters in headless Chromium through
Playwright, runs *Kernel → Restart Kernel and Run All Cells…* from the menu, and checks what a student would see:
the kernel finishes, no cell fails, figures are drawn, the training progress bars appear as widgets (no "Error
displaying widget", no raw ``HBox(...)`` text). A screenshot is written when a check fails.

Needs Chromium (Debian: ``apt-get install chromium``; ``.ci/run`` installs it) and the ``playwright`` package of
the test extra; Playwright's own browser download is not used. Without Chromium the test is skipped and says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_overview", "03_lenet", "solutions/03_lenet"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"]


def chromium() -> str:
    path = os.environ.get("CNNCOURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (Debian/Ubuntu), or set CNNCOURSE_CHROMIUM "
                    "to a Chromium binary, to run the browser test")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of notebooks/ (runs must not change the repository's files), tiny mode, bars on."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra has it)")
    browser_path = chromium()
    tmp = tmp_path_factory.mktemp("lab")
    served = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in NOTEBOOKS:  # no stored outputs: what the checks read afterwards can only come from this browser run
        nb = nbformat.read(served / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, served / f"{name}.ipynb")
    settings = tmp / "config" / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},  # render every cell
                           "apputils-extension/notification": {"fetchNews": "false"}}.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "CNNCOURSE_SMOKE_STEPS", "MPLBACKEND")}
    env.update(CNNCOURSE_MODE="tiny", JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "rt"),
               CNNCOURSE_RESULTS=str(tmp / "results"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    port, token = free_port(), "cnncourse-browser"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
           "--ServerApp.port_retries=0"]  # fail on a taken port instead of moving to one this test does not poll
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"JupyterLab did not start within 90 s (exit code {server.poll()}: a taken port ends it at once)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
        try:
            yield {"browser": browser, "url": f"http://127.0.0.1:{port}", "token": token, "dir": served,
                   "shots": tmp / "screenshots"}
        finally:
            browser.close()
            server.terminate()
            server.wait(timeout=30)


def restart_and_run_all(page, timeout_s: float = 240) -> dict:
    """Kernel → Restart Kernel and Run All Cells…, accept the dialog, wait until every cell has run."""
    page.evaluate("""() => {  // count the moments a progress-bar widget is on the page (they close after training)
        window.cnncourseBars = 0;
        new MutationObserver(() => {
            if (document.querySelector(".widget-hprogress")) window.cnncourseBars += 1;
        }).observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ["class"]});
    }""")
    page.click(".lm-MenuBar-itemLabel:text-is('Edit')")  # clear the stored outputs first, so that what is
    page.click(".lm-Menu-itemLabel:text-is('Clear Outputs of All Cells')")  # checked below is this run's
    page.wait_for_function("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
                           ".every(p => !/\\d/.test(p.textContent))")
    page.click(".lm-MenuBar-itemLabel:text-is('Kernel')")
    page.click(".lm-Menu-itemLabel:text-is('Restart Kernel and Run All Cells…')")
    page.click(".jp-Dialog .jp-mod-accept")
    start = time.monotonic()
    deadline, done_since, retried = start + timeout_s, None, False
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
        untouched = all(not re.search(r"[\d*]", t) for t in prompts)
        if idle and untouched and not retried and time.monotonic() - start > 60:
            # on a loaded machine JupyterLab's restart can outlast its own wait and drop the "run all" part: the
            # kernel is back and idle, but no cell was queued. Run all cells once more from the Run menu.
            print("the restart did not start the cells within 60 s: Run → Run All Cells")
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            retried = True
        if idle and prompts and all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in prompts):  # every cell has run
            done_since = done_since or time.monotonic()
            if time.monotonic() - done_since > 1.5:  # and stays so: not a moment between a restart and its run
                return {"progress_bars_seen": page.evaluate("window.cnncourseBars")}
        else:
            done_since = None
    raise TimeoutError(f"the notebook did not finish within {timeout_s:.0f} s")


def shut_down_kernels(lab: dict) -> None:
    """End every kernel the server runs (closing a page leaves its kernel running, using memory and CPU)."""
    api = f"{lab['url']}/api/kernels?token={lab['token']}"
    for kernel in json.load(urllib.request.urlopen(api, timeout=10)):
        request = urllib.request.Request(f"{lab['url']}/api/kernels/{kernel['id']}?token={lab['token']}",
                                         method="DELETE")
        urllib.request.urlopen(request, timeout=30)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_restart_and_run_all_in_jupyterlab(lab, name):
    path = lab["dir"] / f"{name}.ipynb"
    if not path.exists():
        pytest.fail(f"{name}.ipynb does not exist")
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab['url']}/lab/tree/{name}.ipynb?reset&token={lab['token']}")  # reset: only this notebook
        page.wait_for_selector(".jp-Notebook .jp-Cell >> visible=true", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        seen = restart_and_run_all(page, timeout_s=420)
        saved_before = path.stat().st_mtime_ns
        page.keyboard.press("Control+s")  # save, to read exactly what the browser's kernel produced
        for _ in range(120):
            if path.stat().st_mtime_ns != saved_before:
                break
            page.wait_for_timeout(250)
        else:
            raise AssertionError("JupyterLab did not save the notebook within 30 s")
        page.wait_for_timeout(500)  # the save may still be writing
        html = page.content()
        assert page.locator(".jp-RenderedImage img").count() > 0, "no figure was drawn"
        assert "Error displaying widget" not in html
        nb = nbformat.read(path, as_version=4)
        code_cells = sum(c.cell_type == "code" for c in nb.cells)
        assert page.locator(".jp-CodeCell").count() == code_cells, "not every cell is on the page (windowing)"
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
        assert not errors, f"cells failed: {errors}"
        assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), "a cell did not run"
        raw = [o for o in outputs if "HBox(" in json.dumps(o.get("data", {}).get("text/plain", ""))
               and WIDGET_VIEW not in o.get("data", {})]
        assert not raw, "a progress bar was printed as text instead of drawn as a widget"
        if name != "00_overview":  # chapter 00 trains nothing
            # a bar is seen on the page while it runs; on a busy machine a short run's bar can open and close
            # between two redraws, and then the saved notebook still holds its widget view (never text: above)
            shown = sum(WIDGET_VIEW in o.get("data", {}) for o in outputs)
            assert seen["progress_bars_seen"] > 0 or shown > 0, "no progress bar was shown while the notebook trained"
    except BaseException:
        lab["shots"].mkdir(parents=True, exist_ok=True)
        shot = lab["shots"] / f"{name.replace('/', '__')}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}")
        raise
    finally:
        page.close()
        shut_down_kernels(lab)
