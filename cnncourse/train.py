"""The course's one training loop: `fit`, `evaluate`, `predict`, learning-rate schedules and checkpoints.

`fit` trains for a number of epochs and returns a `History`. With ``checkpoint=path`` it saves everything needed to
continue (weights, optimizer, schedule, random states, history) after every epoch, atomically, and a later call with
the same path resumes after the last finished epoch: an interrupted run loses at most the epoch in progress.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .config import default_device

Schedule = Callable[[int], float]


# --- progress and history --------------------------------------------------------------------------------------

def progress_enabled() -> bool:
    """Progress bars are shown in Jupyter and terminals, and hidden when ``TQDM_DISABLE`` is set or output is piped."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()


def _bar(iterable: Iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


@dataclass
class History:
    """One row per epoch (``epochs``) and one per optimizer step (``steps``: step, loss, lr)."""

    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        """A per-epoch column, e.g. ``history["val_acc"]``; per-step values are in ``history.steps``."""
        return [row[key] for row in self.epochs]

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def state_dict(self) -> dict:
        return {"epochs": self.epochs, "steps": self.steps}


# --- learning-rate schedules -----------------------------------------------------------------------------------

def lr_schedule(
    kind: str,
    total_steps: int,
    warmup_steps: int = 0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
) -> Schedule:
    """A multiplier of the base learning rate for optimizer step ``t`` (0-based).

    - ``"constant"``: 1;
    - ``"step"``: ``gamma ** (number of milestones <= t)``, e.g. ÷10 at each milestone (ResNet, BiT);
    - ``"cosine"``: half a cosine from 1 down to 0 over the steps after warm-up.

    With ``warmup_steps`` the multiplier first rises linearly, ``t / warmup_steps`` (BiT's warm-up).
    """
    if kind not in ("constant", "step", "cosine"):
        raise ValueError(f"unknown schedule {kind!r}; use 'constant', 'step' or 'cosine'")
    if total_steps < 1 or warmup_steps < 0:
        raise ValueError(f"need total_steps >= 1 and warmup_steps >= 0, got {total_steps} and {warmup_steps}")
    if kind == "step" and not milestones:
        raise ValueError("a 'step' schedule needs milestones (the optimizer steps where the LR drops)")
    marks = sorted(milestones)

    def factor(t: int) -> float:
        if t < warmup_steps:
            return t / warmup_steps
        if kind == "step":
            return gamma ** sum(t >= m for m in marks)
        if kind == "cosine":
            span = max(1, total_steps - warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (t - warmup_steps) / span)))
        return 1.0

    return factor


# --- evaluation ------------------------------------------------------------------------------------------------

def _logits(out) -> torch.Tensor:
    """The main output of models that also return auxiliary heads (GoogLeNet, Inception-v3 in training)."""
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits"):
        return out.logits
    return out[0]


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, device: str | torch.device | None = None):
    """Logits and labels for every example of ``loader`` (eval mode), both on the CPU."""
    device = torch.device(device) if device else next(model.parameters()).device
    model.eval()
    outs, labels = [], []
    for x, y in loader:
        outs.append(_logits(model(x.to(device))).float().cpu())
        labels.append(y)
    return torch.cat(outs), torch.cat(labels)


def evaluate(
    model: nn.Module, loader: DataLoader, loss_fn: Callable | None = None, device: str | torch.device | None = None
) -> dict[str, float]:
    """Mean loss and accuracy over ``loader`` in eval mode."""
    logits, labels = predict(model, loader, device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    return {"loss": float(loss_fn(logits, labels)), "acc": float((logits.argmax(1) == labels).float().mean())}


# --- checkpoints -----------------------------------------------------------------------------------------------

def save_atomic(obj: object, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state(loader: DataLoader) -> dict:
    gen = getattr(loader, "generator", None)
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": gen.get_state() if gen is not None else None,
    }


def _set_rng_state(state: dict, loader: DataLoader) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen = getattr(loader, "generator", None)
    if gen is not None and state["loader"] is not None:
        gen.set_state(state["loader"])


# --- the loop --------------------------------------------------------------------------------------------------

def fit(
    model: nn.Module,
    train_loader: DataLoader,
    epochs: int,
    *,
    val_loader: DataLoader | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.01,
    loss_fn: Callable | None = None,
    schedule: str | Schedule | None = None,
    warmup_steps: int = 0,
    accum_steps: int = 1,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    checkpoint: str | Path | None = None,
    progress: bool | None = None,
    verbose: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its `History`.

    - ``optimizer`` defaults to SGD with momentum 0.9 and learning rate ``lr``.
    - ``schedule``: ``"cosine"``, ``"constant"``, or a function from optimizer step to LR multiplier (see
      `lr_schedule`); it is applied per optimizer step, after ``warmup_steps`` of linear warm-up for the strings.
    - ``accum_steps``: gradients of that many batches are summed before each optimizer step (a larger effective
      batch in the same memory).
    - ``amp`` / ``channels_last`` default to on with CUDA and are never used elsewhere.
    - ``checkpoint``: file to save after every epoch and to resume from when it exists.

    Validation loss is plain cross-entropy whatever ``loss_fn`` is, so runs with different losses compare.
    """
    if epochs < 0 or accum_steps < 1:
        raise ValueError(f"need epochs >= 0 and accum_steps >= 1, got {epochs} and {accum_steps}")
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches: is the dataset empty, or drop_last with a tiny dataset?")
    device = torch.device(device) if device else default_device()
    cuda = device.type == "cuda"
    amp = cuda if amp is None else (amp and cuda)
    channels_last = cuda if channels_last is None else (channels_last and cuda)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    steps_per_epoch = math.ceil(len(train_loader) / accum_steps)
    if schedule is None or isinstance(schedule, str):
        schedule = lr_schedule(schedule or "constant", max(1, epochs * steps_per_epoch), warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp and amp_dtype == torch.float16)
    history, start = History(), 0

    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history = History(**state["history"])
        _set_rng_state(state["rng"], train_loader)
        start = state["epoch"]
        if verbose:
            print(f"resuming from {Path(checkpoint).name}: {start} of {epochs} epochs already done")

    show = progress_enabled() if progress is None else progress
    step = start * steps_per_epoch
    for epoch in range(start, epochs):
        try:
            t0 = time.perf_counter()
            model.train()
            total_loss, correct, seen = 0.0, 0, 0
            optimizer.zero_grad(set_to_none=True)
            batches = _bar(train_loader, len(train_loader), f"epoch {epoch + 1}/{epochs}", show)
            for i, (x, y) in enumerate(batches):
                x = x.to(device, non_blocking=True, memory_format=memory_format) if x.dim() == 4 else x.to(device)
                y = y.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    out = model(x)
                    loss = loss_fn(out, y)
                loss_value = loss.detach().item()
                if not math.isfinite(loss_value):
                    raise FloatingPointError(
                        f"loss became {loss_value} at epoch {epoch + 1}, batch {i + 1}: lower the learning rate"
                    )
                scaler.scale(loss / accum_steps).backward()
                total_loss += loss_value * len(y)
                correct += int((_logits(out).argmax(1) == y).sum())
                seen += len(y)
                if (i + 1) % accum_steps == 0 or i + 1 == len(train_loader):
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    history.steps.append({"step": step, "loss": loss_value, "lr": optimizer.param_groups[0]["lr"]})
                    scheduler.step()
                    step += 1
            row = {"epoch": epoch + 1, "train_loss": total_loss / seen, "train_acc": correct / seen}
            if val_loader is not None:
                val = evaluate(model, val_loader, device=device)  # plain cross-entropy, comparable across runs
                row.update(val_loss=val["loss"], val_acc=val["acc"])
            row.update(lr=history.steps[-1]["lr"], seconds=time.perf_counter() - t0)
            history.epochs.append(row)
            if checkpoint is not None:
                save_atomic(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "history": history.state_dict(),
                        "rng": _rng_state(train_loader),
                        "epoch": epoch + 1,
                    },
                    checkpoint,
                )
            if verbose:
                print(_epoch_line(row, epochs))
        except KeyboardInterrupt:
            if checkpoint is not None:
                print(f"interrupted in epoch {epoch + 1}; call fit again with the same checkpoint to resume from it")
            raise
    return history


def _epoch_line(row: dict, epochs: int) -> str:
    text = f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.1%}"
    if "val_loss" in row:
        text += f"  |  val loss {row['val_loss']:.4f} acc {row['val_acc']:.1%}"
    return text + f"  |  {row['seconds']:.1f}s"
