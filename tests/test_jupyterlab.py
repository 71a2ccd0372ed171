"""README command 1 really serves the course: start JupyterLab the way it says, list the notebooks over its API."""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command(name: str) -> str:
    """The command between ``<!-- name -->`` markers in README.md (the same text a user copies)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(rf"<!-- {name} -->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"README.md has no <!-- {name} --> command block"
    return block.group(1).strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_setup_command_serves_the_notebooks(tmp_path):
    command = readme_command("setup-command")
    install, _, serve = command.rpartition("&&")
    assert "pip install -r requirements.txt" in install
    args = shlex.split(serve)
    assert args[:2] == ["jupyter", "lab"], serve
    port, token = free_port(), "cnncourse-test"
    cmd = [sys.executable, "-m", "jupyterlab", *args[2:], "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:  # CI containers run as root, which JupyterLab refuses without this flag
        cmd.append("--allow-root")
    env_dirs = {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**os.environ, **env_dirs})
    try:
        listing, deadline = None, time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/",
                                             headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=5) as response:
                    listing = json.load(response)
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer: " + (server.stdout.read1(4000).decode() if server.poll() is not None else "still starting")
        names = {item["name"] for item in listing["content"]}
        expected = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
        assert expected and expected <= names, f"served {sorted(names)}"
        # the lab UI itself is there too
        req = urllib.request.Request(f"http://127.0.0.1:{port}/lab", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=10) as response:
            assert response.status == 200 and b"JupyterLab" in response.read()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
