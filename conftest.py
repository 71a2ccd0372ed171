"""pytest set-up shared by the unit tests and the notebooks (which nbval runs as tests).

- Notebooks always run in tiny mode under pytest, because their stored outputs come from a tiny-mode run; the
  kernels nbval starts inherit this process's environment.
- Each notebook's cells are timed; the summary lists them and the run fails if one notebook takes longer than
  ``CNNCOURSE_NOTEBOOK_BUDGET`` seconds (default 45, the course's limit on 2 CPU cores).
- The notebooks record their figures in ``results/tiny`` as they run; after them, the run fails if README.md's
  results tables differ from what was just measured (``python -m cnncourse.results`` rewrites them).
"""

from __future__ import annotations

import os
from collections import defaultdict

os.environ["CNNCOURSE_MODE"] = "tiny"
os.environ["TQDM_DISABLE"] = "1"  # progress bars would only add widget noise to the checked outputs
os.environ.setdefault("MPLBACKEND", "Agg")

_notebook_seconds: dict[str, float] = defaultdict(float)


def _budget() -> float:
    return float(os.environ.get("CNNCOURSE_NOTEBOOK_BUDGET", "45"))


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb") and report.when == "call":
        _notebook_seconds[path] += report.duration


def _over_budget() -> dict[str, float]:
    return {nb: s for nb, s in _notebook_seconds.items() if s > _budget()}


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    tr = terminalreporter
    tr.section("notebook times (tiny mode, cells only)")
    for nb, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > _budget() else ""
        tr.write_line(f"{seconds:7.1f} s  {nb}{flag}")
    tr.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  total; budget per notebook {_budget():.0f} s")


def _results_out_of_date() -> bool:
    from cnncourse import results

    return bool(_notebook_seconds) and results.main(["--check"]) != 0


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and (_over_budget() or _results_out_of_date()):
        session.exitstatus = 1
