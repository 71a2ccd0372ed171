"""Run settings: mode (tiny / full), device, seeding and the data directory."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

MODES = ("tiny", "full", "auto")
MODE_ENV = "CNNCOURSE_MODE"
SCHEDULES = ("class", "paper")
SCHEDULE_ENV = "CNNCOURSE_SCHEDULE"
SMOKE_ENV = "CNNCOURSE_SMOKE_STEPS"
DATA_ENV = "CNNCOURSE_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/cnncourse")

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """What `setup` resolved: every notebook reads its mode, device and data directory from here."""

    mode: str
    device: torch.device
    data_dir: Path
    seed: int
    schedule: str = "class"  # full mode's training length: "class" (fits a lesson) or "paper" (the paper's)

    @property
    def tiny(self) -> bool:
        return self.mode == "tiny"

    @property
    def full(self) -> bool:
        return self.mode == "full"

    def pick(self, *, tiny: T, full: T, paper: T | None = None) -> T:
        """The value for the current mode, e.g. ``epochs = cfg.pick(tiny=3, full=30, paper=164)``.

        ``full`` is full mode's class-length value; ``paper`` (if given) replaces it when ``CNNCOURSE_SCHEDULE=paper``.
        """
        if self.tiny:
            return tiny
        return paper if self.schedule == "paper" and paper is not None else full

    @property
    def smoke(self) -> bool:
        """True in a smoke run (``CNNCOURSE_SMOKE_STEPS``), where training is cut short to test the code paths."""
        return smoke_steps() > 0

    def expect(self, condition: bool, message: str) -> None:
        """``assert condition, message`` for a result of training — skipped in a smoke run, which trains too little
        for any result to hold (it checks that the code runs, not what it learns)."""
        if not condition and not self.smoke:
            raise AssertionError(message)

    def checkpoint(self, run: str) -> Path | None:
        """Where full mode saves the training run ``run`` after every epoch, so that re-running the cell resumes it.

        One file per run and schedule under the data directory, e.g. ``checkpoints/03_lenet-tanh-class.pt``. None in
        tiny mode: its runs take seconds, and a run that resumed instead of training would print other lines than the
        stored outputs.
        """
        if self.tiny:
            return None
        return self.data_dir / "checkpoints" / f"{run}-{self.schedule}.pt"

    def banner(self) -> str:
        mode = f"{self.mode} ({self.schedule} schedule)" if self.full else self.mode
        return (
            f"cnncourse | mode={mode} | device={self.device} | torch {torch.__version__} "
            f"| data {_shorten_home(self.data_dir)}"
        )


def resolve_mode(value: str | None = None) -> str:
    """Turn ``tiny`` / ``full`` / ``auto`` (default: the environment variable) into ``tiny`` or ``full``."""
    raw = os.environ.get(MODE_ENV, "") if value is None else value
    mode = raw.strip().lower() or "auto"  # set but empty counts as unset
    if mode not in MODES:
        raise ValueError(
            f"{MODE_ENV}={raw!r} is not a run mode; use one of {', '.join(MODES)} "
            f"(auto picks full when a CUDA GPU is present, tiny otherwise)."
        )
    if mode == "auto":
        mode = "full" if torch.cuda.is_available() else "tiny"
    return mode


def resolve_schedule(value: str | None = None) -> str:
    """``class`` (default) or ``paper``, from ``value`` or the ``CNNCOURSE_SCHEDULE`` environment variable."""
    raw = os.environ.get(SCHEDULE_ENV, "") if value is None else value
    schedule = raw.strip().lower() or "class"
    if schedule not in SCHEDULES:
        raise ValueError(
            f"{SCHEDULE_ENV}={raw!r} is not a schedule; use class (each chapter's full run fits a lesson) or paper "
            f"(the papers' schedules, hours per chapter)."
        )
    return schedule


def smoke_steps() -> int:
    """``$CNNCOURSE_SMOKE_STEPS``: when set to N > 0, every `cnncourse.train.fit` trains one epoch of at most N
    batches — a smoke run that executes every code path of a chapter (full mode's too) in seconds. 0 when unset."""
    raw = os.environ.get(SMOKE_ENV, "").strip() or "0"
    if not raw.isdigit():
        raise ValueError(f"{SMOKE_ENV}={raw!r} must be a number of batches (or unset for real training)")
    return int(raw)


def default_device() -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def data_dir() -> Path:
    """The cache for datasets and downloaded files: ``$CNNCOURSE_DATA`` or ``~/.cache/cnncourse``."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


_MACHINE_THREADS = torch.get_num_threads()  # PyTorch's choice for this machine, before tiny mode pins one


def setup(seed: int = 0, mode: str | None = None, verbose: bool = True, schedule: str | None = None) -> Settings:
    """Resolve mode, schedule, device and data directory, seed every RNG, and print a one-line banner."""
    settings = Settings(
        mode=resolve_mode(mode), device=default_device(), data_dir=data_dir(), seed=seed,
        schedule=resolve_schedule(schedule),
    )
    seed_everything(seed)
    # The same seed must give the same numbers on every machine, but PyTorch splits sums over its CPU threads and a
    # different number of threads rounds differently: tiny mode's small models (which barely gain from more) use
    # one; a later full-mode setup() in the same process gets the machine's threads back.
    torch.set_num_threads(1 if settings.tiny else _MACHINE_THREADS)
    if verbose:
        print(settings.banner())
    return settings


def _shorten_home(path: Path) -> str:
    """Show paths under the home directory as ``~/...`` so stored notebook outputs hold no user paths."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)
