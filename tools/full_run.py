"""Run every chapter and solutions notebook under nbval in full mode, on a GPU machine — resumably.

    python tools/full_run.py [--mode full|tiny] [--smoke] [--cell-timeout SECONDS] [--out runs/full] [--force]
                             [--allow-cpu] [--no-save] [NAME ...]

Each notebook runs under nbval (``pytest --nbval-lax``, as CI runs the tiny ones) with ``CNNCOURSE_MODE`` set to
``--mode``: its checked cells must print what they print in tiny mode (shapes, parameter counts, FLOPs), and every
other cell must run without error. A notebook that passed is marked in ``OUT/passed/<mode>-<schedule>[-smoke]/``
and skipped by the next run of the same kind on the same commit (``--force`` runs it again); training cells checkpoint under the data folder, so a notebook that was interrupted
resumes its finished epochs. A passed notebook is executed once more to save it with its outputs as
``OUT/NN_name.ipynb`` (its trainings load from their checkpoints then; ``--no-save`` skips this). The results the
chapters record go to ``results/<mode>/``, and in full mode the README's results tables are rewritten at the end.

``--smoke`` sets ``CNNCOURSE_SMOKE_STEPS=2`` (every training: one epoch of two batches), for checking the whole
command on a CPU in minutes (``--mode tiny --smoke``). NAME selects notebooks, e.g. ``03_lenet`` or
``solutions/03_lenet``. Prints a table of every notebook's status and time at the end; exits with 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]_*.ipynb"))


def notebook_id(path: Path) -> str:
    return f"solutions/{path.stem}" if path.parent.name == "solutions" else path.stem


def select(names: list[str]) -> list[Path]:
    paths = all_notebooks()
    if not names:
        return paths
    chosen = [p for p in paths if notebook_id(p) in names]
    unknown = set(names) - {notebook_id(p) for p in chosen}
    if unknown:
        raise SystemExit(f"no notebook named {', '.join(sorted(unknown))}; names look like 03_lenet or solutions/03_lenet")
    return chosen


def why_it_failed(output: str) -> str:
    """The most telling line of a failed nbval run: the course's own errors first, then any exception line."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)  # nbval prints IPython's coloured tracebacks
    lines = [line.strip() for line in output.splitlines()]
    for pattern in (r"(DataUnavailableError|WeightsUnavailableError|CheckpointError): .*", r"\w+(Error|Exception): .*",
                    r"Notebook cell execution failed|Timeout.*|.*OVER BUDGET.*"):
        for line in lines:
            match = re.search(pattern, line)
            if match:
                return match.group(0)[:300]
    return (lines[-1] if lines else "failed")[:300]


def save_executed(path: Path, target: Path, timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--mode", choices=("full", "tiny"), default="full")
    parser.add_argument("--smoke", action="store_true", help="train one epoch of two batches everywhere")
    parser.add_argument("--cell-timeout", type=int, default=4 * 3600, help="seconds one cell may take")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "full")
    parser.add_argument("--force", action="store_true", help="run notebooks that passed before again")
    parser.add_argument("--allow-cpu", action="store_true", help="full mode without a GPU (slow)")
    parser.add_argument("--no-save", action="store_true", help="do not save executed copies")
    args = parser.parse_args()

    if args.mode == "full" and not args.allow_cpu and not args.smoke:
        import torch

        if not torch.cuda.is_available():
            print("full mode needs a CUDA GPU (none is visible): run on a GPU machine, or pass --allow-cpu to run it "
                  "on the CPU anyway, or --smoke to check the notebooks' full-mode code in minutes", file=sys.stderr)
            return 2
    env = {**os.environ, "CNNCOURSE_NBVAL_MODE": args.mode, "TQDM_DISABLE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if args.smoke:
        env["CNNCOURSE_SMOKE_STEPS"] = "2"
    os.environ.update({k: env[k] for k in ("CNNCOURSE_NBVAL_MODE", "TQDM_DISABLE")})
    os.environ["CNNCOURSE_MODE"] = args.mode  # for the saved copies, which run outside nbval
    if args.smoke:
        os.environ["CNNCOURSE_SMOKE_STEPS"] = "2"
    schedule = os.environ.get("CNNCOURSE_SCHEDULE", "class").strip().lower() or "class"
    passed_dir = args.out / "passed" / f"{args.mode}-{schedule}{'-smoke' if args.smoke else ''}"  # one kind of run
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    rows = []
    for path in select(args.names):
        name = notebook_id(path)
        marker = passed_dir / f"{name.replace('/', '__')}.json"
        if marker.exists() and not args.force and json.loads(marker.read_text()).get("commit") == commit:
            rows.append((name, "skipped: passed before", json.loads(marker.read_text())["seconds"]))
            continue
        print(f"running {name} ({args.mode} mode{', smoke' if args.smoke else ''}) ...", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",  # one notebook: one process
             f"--nbval-cell-timeout={args.cell_timeout}", str(path)], cwd=ROOT, env=env, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            rows.append((name, f"FAILED: {why_it_failed(proc.stdout + proc.stderr)}", seconds))
            continue
        if not args.no_save:
            save_executed(path, args.out / f"{name}.ipynb", args.cell_timeout)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"notebook": name, "mode": args.mode, "seconds": round(seconds, 1),
                                      "commit": commit}) + "\n")
        rows.append((name, "passed", seconds))

    width = max([len(r[0]) for r in rows] + [8])
    print(f"\n{'notebook':{width}s} {'time':>9s}  status")
    for name, status, seconds in rows:
        print(f"{name:{width}s} {seconds / 60:7.1f} m  {status}")
    print(f"{'total':{width}s} {sum(r[2] for r in rows) / 60:7.1f} m")
    if args.mode == "full" and not args.smoke and any(status == "passed" for _, status, _ in rows):
        subprocess.run([sys.executable, "-m", "cnncourse.results"], cwd=ROOT, env=env, check=False)
    return 1 if any(status.startswith("FAILED") for _, status, _ in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
