"""The course's one training loop, in parts that each fit on a screen.

Read it top to bottom:

- `param_groups`: weight decay for the weights of convolutions and linear layers, none for biases and norms;
- `train_one_epoch`: one pass over the data — forward (optionally on `mixup` batches), loss, backward, an optimizer
  step every ``accum_steps`` batches (with optional gradient clipping), one `History` row per step;
- `save_checkpoint` / `resume`: everything needed to continue a run (weights, optimizer, schedule, random states,
  history) in a file that loads with ``weights_only=True``, plus a fingerprint of the run, so that a checkpoint of
  another model, optimizer or schedule is refused instead of silently mixed in;
- `fit`: ties them together. With ``checkpoint=path`` it saves after every epoch, atomically, and a later call with
  the same path resumes after the last finished epoch: an interrupted run loses at most the epoch in progress and
  ends with exactly the weights an uninterrupted run would have.

Progress bars are driven by hand (``total=`` and ``update()``), never by wrapping the data loader: wrapping lets
some tqdm classes call ``iter(loader)`` once more, which draws from the loader's random generator and changes the
shuffle order — the same seed would then give different numbers with and without a progress bar.
"""

from __future__ import annotations

import math
import os
import pickle
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

from .config import default_device, smoke_steps

Schedule = Callable[[int], float]


# --- progress and history --------------------------------------------------------------------------------------

def progress_enabled() -> bool:
    """Progress bars are shown in Jupyter and terminals, and hidden when ``TQDM_DISABLE`` is set or output is piped."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool):
    """A bar of ``total`` steps that the caller advances with ``update()`` (it never touches the data itself)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, mininterval=0.5)  # ≤ 2 redraws a second


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


# --- BiT's fine-tuning rule ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HyperRule:
    """BiT's fine-tuning settings for one dataset (`bit_hyperrule`): SGD with momentum 0.9, no weight decay."""

    steps: int  # optimizer steps of ``batch_size`` images
    warmup_steps: int  # the learning rate rises linearly from 0 over these
    milestones: tuple[int, ...]  # and is divided by 10 at each of these steps
    resize: int  # training images are resized to resize×resize, then randomly cropped to crop×crop and flipped;
    crop: int  # test images are resized to crop×crop
    mixup_alpha: float  # MixUp's α (0: no MixUp)
    lr: float = 0.003
    batch_size: int = 512

    def schedule(self) -> Schedule:
        """The learning-rate multiplier per optimizer step (for `fit`'s ``schedule``)."""
        return lr_schedule("step", self.steps, self.warmup_steps, self.milestones)


def bit_hyperrule(dataset_size: int, image_size: int | tuple[int, int]) -> HyperRule:
    """The BiT-HyperRule: fine-tuning settings from the number of labelled examples and the image size (H, W).

    As BiT's repository computes it (``bit_hyperrule.py``):

    - fewer than 20,000 examples: 500 steps, warm-up 100, ÷10 at 200, 300 and 400, no MixUp;
    - fewer than 500,000: 10,000 steps, warm-up 500, ÷10 at 3,000, 6,000 and 9,000, MixUp α = 0.1;
    - more: 20,000 steps, warm-up 500, ÷10 at 6,000, 12,000 and 18,000, MixUp α = 0.1;
    - images of less than 96×96 pixels (by area) are resized to 160 and cropped to 128, larger ones 512 and 480.

    The paper's text differs in two places: ÷10 at 30%, 60% and 90% of the steps (the repository's medium and large
    schedules do that, its small one drops at 40%, 60% and 80%), and 448 → 384 for larger images.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if dataset_size < 1 or height < 1 or width < 1:
        raise ValueError(f"need a positive dataset size and image size, got {dataset_size} and {image_size}")
    resize, crop = (160, 128) if height * width < 96 * 96 else (512, 480)
    if dataset_size < 20_000:
        return HyperRule(500, 100, (200, 300, 400), resize, crop, 0.0)
    if dataset_size < 500_000:
        return HyperRule(10_000, 500, (3_000, 6_000, 9_000), resize, crop, 0.1)
    return HyperRule(20_000, 500, (6_000, 12_000, 18_000), resize, crop, 0.1)


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


# --- the optimizer -----------------------------------------------------------------------------------------------

def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: matrices and kernels (≥ 2-D) decay, biases and norm scales/shifts (1-D) do not.

    Weight decay pulls weights towards 0 to keep them small; a bias or a BatchNorm/GroupNorm scale has no such
    reason to shrink (shrinking a norm's scale only fights the normalisation), so it is left alone — nanoGPT's and
    timm's rule, and what ResNet and BiT recipes mean by "weight decay on the weights".
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
    ]


def _optimizer_step(optimizer, scheduler, scaler, clip_grad_norm: float | None) -> None:
    """Clip (optionally), step, reset the gradients, advance the learning-rate schedule."""
    if clip_grad_norm is not None:
        scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    scheduler.step()


# --- one epoch ---------------------------------------------------------------------------------------------------

def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """MixUp (Zhang et al., 2017) as BiT applies it: one λ ~ Beta(α, α) per batch, each image blended with another
    image of the batch (a random permutation): ``λ·x + (1 − λ)·x[perm]``.

    Returns the blended batch, the partners' labels ``y[perm]`` and λ; the loss is then
    ``λ·loss(out, y) + (1 − λ)·loss(out, y[perm])``. Draws from torch's (seeded, checkpointed) CPU generator.
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x)).to(x.device)
    return lam * x + (1 - lam) * x[perm], y[perm], lam


# --- one epoch ---------------------------------------------------------------------------------------------------

def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: History,
    *,
    loss_fn: Callable,
    device: torch.device,
    accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    mixup_alpha: float = 0.0,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    desc: str = "",
    progress: bool = False,
) -> dict[str, float]:
    """One pass over ``loader``; an optimizer step every ``accum_steps`` batches (and after the last one).

    Appends a row (step, loss, lr) to ``history.steps`` per optimizer step and returns the epoch's mean training
    loss and accuracy (with ``mixup_alpha`` > 0 on `mixup` batches, the accuracy against each image's first label).
    ``amp_dtype`` turns on mixed precision (CUDA); ``scaler`` scales float16 losses.

    Losses and correct counts stay on the device and are read once, at the end of the epoch: reading a GPU number
    (``.item()``) makes the CPU wait until the GPU has finished, and doing that every step leaves a fast GPU idle.
    That is also where a non-finite loss is reported (and, with a progress bar, at its once-a-second refresh).
    """
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    model.train()
    losses: list[torch.Tensor] = []  # one 0-d tensor per batch, on the device
    sizes: list[int] = []
    steps: list[tuple[int, float]] = []  # (batch index, learning rate) of every optimizer step
    correct = torch.zeros((), dtype=torch.long, device=device)
    optimizer.zero_grad(set_to_none=True)
    bar, refreshed = progress_bar(len(loader), desc, progress), time.monotonic()
    try:
        for i, (x, y) in enumerate(loader):
            x = x.to(device, non_blocking=True, memory_format=memory_format) if x.dim() == 4 else x.to(device)
            y = y.to(device, non_blocking=True)
            partner, lam = y, 1.0
            if mixup_alpha:
                x, partner, lam = mixup(x, y, mixup_alpha)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = model(x)
                loss = loss_fn(out, y) if lam == 1.0 else lam * loss_fn(out, y) + (1 - lam) * loss_fn(out, partner)
            scaler.scale(loss / accum_steps).backward()
            losses.append(loss.detach())
            sizes.append(len(y))
            correct += (_logits(out).argmax(1) == y).sum()
            if (i + 1) % accum_steps == 0 or i + 1 == len(loader):
                steps.append((i, optimizer.param_groups[0]["lr"]))
                _optimizer_step(optimizer, scheduler, scaler, clip_grad_norm)
            bar.update()
            if progress and time.monotonic() - refreshed > 1.0:  # a progress bar reads the loss once a second
                refreshed = time.monotonic()
                bar.set_postfix(loss=f"{_finite(losses[-1:], i, desc)[0]:.4f}", refresh=False)
    finally:
        bar.close()
    values = _finite(losses, 0, desc)  # the epoch's one synchronisation with the device
    history.steps.extend({"step": len(history.steps) + k, "loss": values[i], "lr": lr} for k, (i, lr) in enumerate(steps))
    seen = sum(sizes)
    return {"train_loss": sum(v * n for v, n in zip(values, sizes)) / seen, "train_acc": int(correct) / seen}


def _finite(losses: list[torch.Tensor], first: int, desc: str) -> list[float]:
    """The losses as floats; a ``FloatingPointError`` naming the first batch whose loss is not finite."""
    values = torch.stack(losses).float().tolist()
    for k, v in enumerate(values):
        if not math.isfinite(v):
            raise FloatingPointError(f"loss became {v} in batch {first + k + 1} ({desc}): lower the learning rate")
    return values


# --- checkpoints -----------------------------------------------------------------------------------------------

class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed: corrupt, unsafe, or written by a different run."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or the kernel's stop button) during `fit`; its message says how to resume."""

    def _render_traceback_(self) -> list[str]:
        """What IPython/Jupyter shows instead of a traceback: the one-line hint, nothing from inside the loop."""
        return [f"{type(self).__name__}: {self}"]


def save_atomic(obj: object, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, flushed to disk, then renamed over ``path``.

    A crash or Ctrl-C never leaves half a checkpoint under ``path``: either the old file or the new one is there.
    When saving fails the temporary file is removed (a ``kill -9`` cannot be caught; `fit` removes that leftover).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them the checkpoint
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fingerprint(
    model: nn.Module, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int, schedule: Schedule,
    mixup_alpha: float = 0.0,
) -> dict:
    """What makes two runs the same run: model class and structure, optimizer and its settings, epochs, optimizer
    steps per epoch, the learning-rate schedule (its multipliers at the start, middle and end) and MixUp's α."""
    settings = [{k: v for k, v in group.items() if k != "params" and isinstance(v, (int, float, bool, str, tuple))}
                for group in optimizer.param_groups]
    total = max(1, epochs * steps_per_epoch)
    return {
        "model": type(model).__qualname__,
        "structure": repr(model).splitlines() + [f"{k} {tuple(v.shape)}" for k, v in model.state_dict().items()],
        "optimizer": type(optimizer).__name__,
        "settings": repr(settings),
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "schedule": [round(float(schedule(t)), 12) for t in (0, total // 2, total - 1)],
        "mixup_alpha": float(mixup_alpha),
    }


def _numpy_rng_state() -> dict:
    name, key, pos, has_gauss, gauss = np.random.get_state()
    return {"name": name, "key": torch.from_numpy(key.astype(np.int64)), "pos": pos, "has_gauss": has_gauss,
            "gauss": gauss}


def _rng_state(loader: DataLoader) -> dict:
    """Every random state the next epoch depends on, as tensors and plain values (safe to load)."""
    gen = getattr(loader, "generator", None)
    return {
        "python": random.getstate(),
        "numpy": _numpy_rng_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": gen.get_state() if gen is not None else None,
    }


def _set_rng_state(state: dict, loader: DataLoader) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen = getattr(loader, "generator", None)
    if gen is not None and state["loader"] is not None:
        gen.set_state(state["loader"])


def save_checkpoint(path: str | Path, run: dict, model, optimizer, scheduler, scaler, history, loader) -> None:
    """Everything `resume` needs after a finished epoch, written atomically."""
    save_atomic(
        {
            "fingerprint": run,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "history": history.state_dict(),
            "rng": _rng_state(loader),
            "epoch": len(history.epochs),
        },
        path,
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device | None = None) -> dict:
    """Read a checkpoint with ``weights_only=True``; a corrupt or unsafe file raises `CheckpointError`."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        problem = f"holds objects other than tensors and plain values, which the course does not load ({err})"
    except Exception as err:  # truncated or empty files fail in several ways (RuntimeError, EOFError, ...)
        problem = f"is corrupt or incomplete ({type(err).__name__}: {err})"
    raise CheckpointError(
        f"the checkpoint {path} {problem}. Delete it to start this run from the beginning, "
        f"or pass another checkpoint= path."
    )


def _mismatch(saved: dict, current: dict, schedule: bool = True) -> str | None:
    """The first way in which the saved run differs from the current one, described with both sides."""
    checks = [("model", "model class"), ("optimizer", "optimizer"), ("settings", "optimizer settings"),
              ("steps_per_epoch", "optimizer steps per epoch")]
    if schedule:
        checks.append(("schedule", "learning-rate multipliers at the first, middle and last step"))
    for key, what in checks:
        if saved.get(key) != current[key]:
            return f"{what}: {saved.get(key)!r} in the checkpoint, {current[key]!r} in this call"
    ours, theirs = current["structure"], saved.get("structure", [])
    for i, (a, b) in enumerate(zip(theirs, ours)):
        if a != b:
            return f"model structure, line {i + 1}: {a.strip()!r} in the checkpoint, {b.strip()!r} in this call"
    if len(ours) != len(theirs):
        return f"model structure: {len(theirs)} lines in the checkpoint, {len(ours)} in this call"
    return None


def resume(path: str | Path, run: dict, model, optimizer, scheduler, scaler, loader, verbose: bool = True) -> History:
    """Restore a run from ``path`` if it exists (an empty `History` otherwise), after checking it is the same run."""
    path = Path(path)
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # left behind by a save that was killed
    if not path.exists():
        return History()
    state = load_checkpoint(path, map_location=next(model.parameters()).device)
    saved = state.get("fingerprint", {})
    done, planned, asked = state["epoch"], saved.get("epochs"), run["epochs"]
    continuing = done < asked  # then the rest of the run must follow the same schedule; otherwise only load it
    problem = _mismatch(saved, run, schedule=continuing and planned == asked)
    if problem is None and continuing and planned != asked:
        problem = f"epochs: a {planned}-epoch run in the checkpoint, {asked} in this call (the schedule depends on it)"
    if problem is not None:
        raise CheckpointError(
            f"the checkpoint {path} belongs to a different run — {problem}. Delete it to start this run afresh, "
            f"or pass another checkpoint= path."
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"], loader)
    if verbose and done > asked:
        print(f"{path.name} already holds a longer run ({done} finished epochs) than the {asked} asked for: "
              f"nothing to train, the model now has its weights after epoch {done}")
    elif verbose and done == asked:
        print(f"{path.name}: all {done} epochs already done, the model now has the finished run's weights "
              f"(delete the file to train again)")
    elif verbose:
        print(f"resuming from {path.name}: {done} of {asked} epochs already done")
    return History(**state["history"])


# --- the loop --------------------------------------------------------------------------------------------------

def fit(
    model: nn.Module,
    train_loader: DataLoader,
    epochs: int,
    *,
    val_loader: DataLoader | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    loss_fn: Callable | None = None,
    schedule: str | Schedule | None = None,
    warmup_steps: int = 0,
    accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    mixup_alpha: float = 0.0,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    checkpoint: str | Path | None = None,
    compile: bool = False,
    progress: bool | None = None,
    verbose: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its `History`.

    - ``optimizer`` defaults to SGD with momentum 0.9, learning rate ``lr`` and ``weight_decay`` on the weights
      only (`param_groups`); pass your own optimizer to choose another (and its decay) yourself.
    - ``schedule``: ``"cosine"``, ``"constant"``, or a function from optimizer step to LR multiplier (see
      `lr_schedule`), applied per optimizer step, after ``warmup_steps`` of linear warm-up for the strings.
    - ``accum_steps``: gradients of that many batches are summed before each optimizer step (a larger effective
      batch in the same memory); ``clip_grad_norm`` caps the gradients' total norm before each step.
    - ``mixup_alpha`` > 0 trains on `mixup` batches (BiT uses α = 0.1 for datasets of 20,000 examples or more).
    - ``amp`` / ``channels_last`` default to on with CUDA and are never used elsewhere.
    - ``checkpoint``: file to save after every epoch and to resume from when it exists (see `resume`).
    - ``compile=True`` trains through ``torch.compile(model)`` (faster steps after a first slow one on a GPU; the
      checkpoint and evaluation use ``model`` itself, whose weights the compiled version shares).

    Validation loss is plain cross-entropy whatever ``loss_fn`` is, so runs with different losses compare. With
    ``CNNCOURSE_SMOKE_STEPS=N`` set, it trains one epoch of at most N batches instead (`config.smoke_steps`).
    """
    if epochs < 0 or accum_steps < 1 or mixup_alpha < 0:
        raise ValueError(f"need epochs >= 0, accum_steps >= 1 and mixup_alpha >= 0, got {epochs}, {accum_steps} "
                         f"and {mixup_alpha}")
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches: is the dataset empty, or drop_last with a tiny dataset?")
    if optimizer is not None and weight_decay:
        raise ValueError("weight_decay applies to fit's default optimizer; set it in your own optimizer instead "
                         "(e.g. torch.optim.AdamW(train.param_groups(model, 0.05), lr=...))")
    if smoke_steps():
        epochs, train_loader = min(epochs, 1), _first_batches(train_loader, smoke_steps())
    device = torch.device(device) if device else default_device()
    cuda = device.type == "cuda"
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if (amp is not False and cuda) else None
    memory_format = torch.channels_last if (channels_last is not False and cuda) else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = optimizer or torch.optim.SGD(param_groups(model, weight_decay), lr=lr, momentum=0.9)
    steps_per_epoch = math.ceil(len(train_loader) / accum_steps)
    if schedule is None or isinstance(schedule, str):
        schedule = lr_schedule(schedule or "constant", max(1, epochs * steps_per_epoch), warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    run = fingerprint(model, optimizer, epochs, steps_per_epoch, schedule, mixup_alpha)
    history = History()
    if checkpoint is not None:
        history = resume(checkpoint, run, model, optimizer, scheduler, scaler, train_loader, verbose)
    show = progress_enabled() if progress is None else progress
    forward = torch.compile(model) if compile else model

    for epoch in range(len(history.epochs), epochs):
        try:
            t0 = time.perf_counter()
            row = {"epoch": epoch + 1}
            row.update(train_one_epoch(
                forward, train_loader, optimizer, scheduler, history, loss_fn=loss_fn, device=device,
                accum_steps=accum_steps, clip_grad_norm=clip_grad_norm, mixup_alpha=mixup_alpha, scaler=scaler,
                amp_dtype=amp_dtype, memory_format=memory_format, desc=f"epoch {epoch + 1}/{epochs}", progress=show,
            ))
            if val_loader is not None:
                val = evaluate(model, val_loader, device=device)  # plain cross-entropy, comparable across runs
                row.update(val_loss=val["loss"], val_acc=val["acc"])
            row.update(lr=history.steps[-1]["lr"], seconds=time.perf_counter() - t0)
            history.epochs.append(row)
            if checkpoint is not None:
                save_checkpoint(checkpoint, run, model, optimizer, scheduler, scaler, history, train_loader)
        except KeyboardInterrupt:
            raise TrainingInterrupted(_interrupt_hint(epoch, epochs, checkpoint)) from None
        if verbose:
            print(_epoch_line(row, epochs))
    return history


class _first_batches:
    """The first ``n`` batches of ``loader`` (a smoke run); keeps its generator, so checkpoints still work."""

    def __init__(self, loader, n: int) -> None:
        self.loader, self.n = loader, n
        self.generator = getattr(loader, "generator", None)

    def __len__(self) -> int:
        return min(self.n, len(self.loader))

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == len(self):
                return
            yield batch


def _interrupt_hint(epoch: int, epochs: int, checkpoint: str | Path | None) -> str:
    where = f"training stopped in epoch {epoch + 1} of {epochs}"
    if checkpoint is None:
        return f"{where}; pass checkpoint= to fit to be able to resume an interrupted run"
    name = Path(checkpoint).name
    saved = {0: "no epoch had finished yet", 1: f"epoch 1 is saved in {name}"}.get(epoch, f"epochs 1–{epoch} are saved in {name}")
    return f"{where}; {saved}: run fit again with the same checkpoint to resume"


def _epoch_line(row: dict, epochs: int) -> str:
    text = f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.1%}"
    if "val_loss" in row:
        text += f"  |  val loss {row['val_loss']:.4f} acc {row['val_acc']:.1%}"
    return text + f"  |  {row['seconds']:.1f}s"
