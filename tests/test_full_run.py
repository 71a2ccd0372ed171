"""tools/full_run.py: the one command that runs every notebook in full mode on a GPU machine, checked here on the
CPU with a smoke flag, with its resumption, and with full mode's offline error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "full_run.py"


def run(*args, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    env.pop("CNNCOURSE_MODE", None)
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env=env)


def test_smoke_run_passes_saves_resumes_and_tabulates(tmp_path):
    out = tmp_path / "runs"
    first = run("--mode", "tiny", "--smoke", "--out", out, "03_lenet", "solutions/03_lenet")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "03_lenet" in first.stdout and "solutions/03_lenet" in first.stdout and first.stdout.count("passed") == 2
    executed = json.loads((out / "03_lenet.ipynb").read_text())
    assert any(o.get("output_type") for c in executed["cells"] for o in c.get("outputs", []))
    assert (out / "passed" / "tiny-class-smoke" / "solutions__03_lenet.json").exists()
    again = run("--mode", "tiny", "--smoke", "--out", out, "03_lenet")
    assert again.returncode == 0 and "skipped: passed before" in again.stdout


def test_offline_full_mode_fails_with_the_courses_clear_error(tmp_path):
    blocked = {"CNNCOURSE_DATA": str(tmp_path / "data"), "CNNCOURSE_RESULTS": str(tmp_path / "results"),
               "HTTPS_PROXY": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    proc = run("--mode", "full", "--allow-cpu", "--no-save", "--out", tmp_path / "runs", "03_lenet", env=blocked)
    assert proc.returncode == 1
    line = next(l for l in proc.stdout.splitlines() if l.startswith("03_lenet "))
    assert "FAILED: DataUnavailableError: MNIST is not available" in line
    assert not (tmp_path / "runs" / "passed").exists()


def test_full_mode_without_a_gpu_says_what_to_do(tmp_path):
    proc = run("--mode", "full", "--out", tmp_path, env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2 and "needs a CUDA GPU" in proc.stderr and "--allow-cpu" in proc.stderr
