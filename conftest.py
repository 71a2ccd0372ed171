"""pytest set-up shared by the unit tests and the notebooks (which nbval runs as tests).

- Notebooks run in tiny mode under pytest, because their stored outputs come from a tiny-mode run; the kernels
  nbval starts inherit this process's environment. ``tools/full_run.py`` sets ``CNNCOURSE_NBVAL_MODE=full`` to run
  them in full mode instead (then the time budget and the README results check below are off).
- Each notebook's cells are timed; the summary lists them and the run fails if one notebook takes longer than
  ``CNNCOURSE_NOTEBOOK_BUDGET`` seconds (default 45, the course's limit on 2 CPU cores).
- The notebooks record their figures in ``results/tiny`` as they run; after them, the run fails if README.md's
  results tables differ from what was just measured (``python -m cnncourse.results`` rewrites them).
- ``pytest`` runs the suite on up to four processes (pytest-xdist, ``-n auto --dist loadfile``): all tests of a
  file — all cells of a notebook, in order, in one kernel — go to one process, and each process gets its share of
  the CPU cores for its threads.
"""

from __future__ import annotations

import os
from collections import defaultdict

NBVAL_MODE = os.environ.get("CNNCOURSE_NBVAL_MODE", "tiny")
os.environ["CNNCOURSE_MODE"] = NBVAL_MODE
os.environ["TQDM_DISABLE"] = "1"  # progress bars would only add widget noise to the checked outputs
os.environ.setdefault("MPLBACKEND", "Agg")

_notebook_seconds: dict[str, float] = defaultdict(float)

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # a worker: its fair share of the cores, for it and its kernels
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(_share)


# notebooks allowed more than the default budget by their issue (a degradation experiment, a transfer experiment)
LONGER_BUDGETS = {"10_resnet.ipynb": 90.0, "13_bit.ipynb": 90.0}


def _budget(notebook: str = "") -> float:
    default = float(os.environ.get("CNNCOURSE_NOTEBOOK_BUDGET", "45"))
    name = notebook.rsplit("/", 1)[-1]
    return max(default, LONGER_BUDGETS.get(name, 0.0)) if "/solutions/" not in notebook else default


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb") and report.when == "call":
        _notebook_seconds[path] += report.duration


def _over_budget() -> dict[str, float]:
    return {nb: s for nb, s in _notebook_seconds.items() if s > _budget(nb)}


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    tr = terminalreporter
    tr.section("notebook times (tiny mode, cells only)")
    for nb, seconds in sorted(_notebook_seconds.items()):
        flag = f"  OVER BUDGET ({_budget(nb):.0f} s)" if seconds > _budget(nb) else ""
        tr.write_line(f"{seconds:7.1f} s  {nb}{flag}")
    longer = ", ".join(f"{k} {v:.0f} s" for k, v in LONGER_BUDGETS.items())
    tr.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  total; budget per notebook {_budget():.0f} s ({longer})")


def _results_out_of_date() -> bool:
    from cnncourse import results

    return bool(_notebook_seconds) and results.main(["--check"]) != 0


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks, once, with every time
        return
    real_tiny_run = NBVAL_MODE == "tiny" and not os.environ.get("CNNCOURSE_SMOKE_STEPS")
    if real_tiny_run and exitstatus == 0 and (_over_budget() or _results_out_of_date()):
        session.exitstatus = 1
