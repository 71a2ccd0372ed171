"""The results ledger: every chapter's headline figures, per mode, and the README tables made from them.

A chapter calls `record` once, at its end, with what it measured (accuracies, parameters, FLOPs, …), the published
reference where there is one, and its estimated full-mode GPU time. That writes ``results/<mode>/<notebook>.json``
(mode, schedule, device, torch version, date, figures). ``python -m cnncourse.results`` renders one markdown table
per mode and the table of estimated full-mode times into README.md between ``<!-- results:NAME -->`` markers;
``--check`` only says whether README.md is up to date (the tests run it after CI has executed every notebook).

Only numbers that were measured get into a table: a chapter without a full-mode result file shows "not run yet".
Figures that depend on the machine (images/s, seconds) are recorded with ``stable=False`` and left out of the
tables, whose tiny-mode version must be the same on every machine.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .config import Settings, smoke_steps

RESULTS_ENV = "CNNCOURSE_RESULTS"
TABLES = ("tiny", "full", "estimates")


def results_dir() -> Path:
    """``$CNNCOURSE_RESULTS``, else ``results/`` of the course checkout the package runs from, else the data folder's."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "notebooks").is_dir():
        return checkout / "results"
    from .config import data_dir

    return data_dir() / "results"


def _plain(value):
    """Numbers as JSON numbers (floats rounded to 6 significant digits), anything else as text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return _plain(value.item())
    return str(value)


def record(
    settings: Settings,
    notebook: str,
    figures: Mapping[str, object],
    *,
    references: Mapping[str, object] | None = None,
    unstable: Sequence[str] = (),
    estimated_minutes: Mapping[str, float] | None = None,
    root: str | Path | None = None,
    verbose: bool = True,
) -> Path | None:
    """Write the chapter's figures to ``results/<mode>/<notebook>.json``, say so in one line, return the path
    (None in a smoke run, whose numbers are not results).

    ``references`` maps a figure to the published value it is compared with (a number or text such as "8.75%");
    ``unstable`` names the figures that depend on the machine; ``estimated_minutes`` is the estimated full-mode GPU
    time per schedule (``{"class": ..., "paper": ...}``).
    """
    references, unknown = dict(references or {}), set(unstable) - set(figures)
    unknown |= set(references) - set(figures)
    if unknown:
        raise ValueError(f"references/unstable name figures that were not recorded: {sorted(unknown)}")
    if smoke_steps():  # a smoke run trains a few batches: its numbers are not results (checked above all the same)
        if verbose:
            print("smoke run: figures not recorded")
        return None
    payload = {
        "notebook": notebook,
        "mode": settings.mode,
        "schedule": settings.schedule if settings.full else None,
        "device": str(settings.device),
        "torch": torch.__version__,
        "date": _dt.date.today().isoformat(),
        "figures": [
            {"name": name, "value": _plain(value), "reference": _plain(references.get(name)),
             "stable": name not in unstable}
            for name, value in figures.items()
        ],
        "estimated_minutes": {k: _plain(float(v)) for k, v in (estimated_minutes or {}).items()},
    }
    path = Path(root or results_dir()) / settings.mode / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")  # written whole, then renamed: a reader never sees half a file
    part.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    part.replace(path)
    if verbose:
        print(f"recorded {len(figures)} figures in results/{settings.mode}/{path.name}")
    return path


def _load(root: Path, mode: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / mode).glob("*.json"))}


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def render(mode: str, root: str | Path | None = None) -> str:
    """The markdown table of one mode (``tiny`` or ``full``), or of the estimated full-mode times (``estimates``)."""
    root = Path(root or results_dir())
    tiny, full = _load(root, "tiny"), _load(root, "full")
    if mode == "estimates":
        rows = ["| notebook | class schedule | paper schedule |", "|---|---|---|"]
        for name, entry in tiny.items():
            est = entry.get("estimated_minutes") or {}
            if est:
                rows.append(f"| {name} | {_minutes(est.get('class'))} | {_minutes(est.get('paper'))} |")
        return "\n".join(rows)
    if mode not in ("tiny", "full"):
        raise ValueError(f"no results table named {mode!r}; use one of {', '.join(TABLES)}")
    rows = ["| notebook | figure | ours | reference |", "|---|---|---|---|"]
    entries = tiny if mode == "tiny" else full
    for name in sorted(set(tiny) | set(full)):
        entry = entries.get(name)
        if entry is None:
            rows.append(f"| {name} | not run yet | | |")
            continue
        for fig in entry["figures"]:
            if fig.get("stable", True):
                rows.append(f"| {name} | {_cell(fig['name'])} | {_cell(fig['value'])} | {_cell(fig['reference'])} |")
    return "\n".join(rows)


def _minutes(value) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} min" if value < 10 else f"{value:,.0f} min"


def _block(name: str) -> re.Pattern:
    """The README block of one table: start marker, the table (group 2), end marker."""
    return re.compile(rf"(<!-- results:{name} -->)\n(.*?)\n?(<!-- /results:{name} -->)", re.S)


def update_readme(readme: str | Path, root: str | Path | None = None) -> bool:
    """Rewrite the tables between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``; True if anything changed."""
    path = Path(readme)
    text = new = path.read_text()
    for name in TABLES:
        pattern = _block(name)
        if not pattern.search(new):
            raise ValueError(f"{path} has no <!-- results:{name} --> … <!-- /results:{name} --> block")
        new = pattern.sub(lambda m: f"{m.group(1)}\n{render(name, root)}\n{m.group(3)}", new)
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cnncourse.results [--check] [README.md]``: render the tables into the README (or check them)."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    readme = Path(args[0]) if args else results_dir().parent / "README.md"
    if check:
        text = readme.read_text()
        for name in TABLES:
            block = _block(name).search(text)
            if block is None or block.group(2) != render(name):
                print(f"{readme}: the {name} results table is out of date; run python -m cnncourse.results")
                return 1
        print(f"{readme}: results tables up to date")
        return 0
    changed = update_readme(readme)
    print(f"{readme}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
