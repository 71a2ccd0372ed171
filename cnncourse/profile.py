"""Measure models: parameters, FLOPs, torchinfo summaries, throughput and peak memory.

FLOPs here are PyTorch's own count (``torch.utils.flop_counter``): one multiply-add is **two** FLOPs. Many papers
and torchvision's weight metadata ("GFLOPS") quote multiply-adds instead; `count_macs` gives that number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import logging

import torch
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

# torch.utils.benchmark imports torch.utils.cpp_extension, which warns on CUDA builds without a CUDA runtime (a CPU
# laptop, CI) that it cannot find one; the course compiles no extensions, so the notice is only noise in notebooks.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
from torch.utils.benchmark import Timer as TorchTimer  # noqa: E402


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _example_input(model: nn.Module, input_size: Sequence[int] | torch.Tensor, device: str | None) -> torch.Tensor:
    if isinstance(input_size, torch.Tensor):
        return input_size
    dev = device or next(model.parameters()).device
    return torch.zeros(tuple(input_size), device=dev)


def _count_forward(model: nn.Module, x: torch.Tensor) -> FlopCounterMode:
    """One eval-mode forward pass of ``x`` under PyTorch's FLOP counter; the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter


def count_flops(
    model: nn.Module,
    input_size: Sequence[int] | torch.Tensor,
    *,
    by_module: bool = False,
    device: str | None = None,
) -> int | dict[str, int]:
    """FLOPs of one forward pass in eval mode (multiply-add = 2 FLOPs).

    ``input_size`` includes the batch dimension, e.g. ``(1, 3, 224, 224)``. A model built on the ``meta`` device
    is counted without computing anything, which makes even VGG instant. With ``by_module=True`` the result maps
    every module name (``"Global"`` for the whole model) to its FLOPs.
    """
    counter = _count_forward(model, _example_input(model, input_size, device))
    if by_module:
        return {name: int(sum(ops.values())) for name, ops in counter.get_flop_counts().items()}
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class InferenceCost:
    params: int  # parameters of the modules the forward pass called
    flops: int  # multiply-add = 2


def inference_cost(
    model: nn.Module, input_size: Sequence[int] | torch.Tensor, *, device: str | None = None
) -> InferenceCost:
    """Parameters used and FLOPs of one eval-mode forward pass, both measured in that one pass.

    The parameter count leaves out what a model stores but does not run at inference, such as GoogLeNet's and
    Inception-v3's auxiliary classifiers; a parameter shared by several modules counts once. FLOPs are
    `count_flops`'. Works on ``meta``-device models.
    """
    called: list[nn.Module] = []
    handles = [m.register_forward_pre_hook(lambda m, args: called.append(m)) for m in model.modules()]
    try:
        counter = _count_forward(model, _example_input(model, input_size, device))
    finally:
        for h in handles:
            h.remove()
    used = {id(p): p.numel() for m in called for p in m.parameters(recurse=False)}
    return InferenceCost(params=sum(used.values()), flops=int(counter.get_total_flops()))


def count_macs(model: nn.Module, input_size: Sequence[int] | torch.Tensor, device: str | None = None) -> int:
    """Multiply-accumulates of one forward pass: half of `count_flops`."""
    return count_flops(model, input_size, device=device) // 2  # type: ignore[operator]


def summary(model: nn.Module, input_size: Sequence[int], **kwargs):
    """A torchinfo summary with the columns the course uses (output shape and parameters per layer)."""
    from torchinfo import summary as _summary

    kwargs.setdefault("col_names", ("output_size", "num_params"))
    kwargs.setdefault("depth", 3)
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("verbose", 0)
    return _summary(model, input_size=tuple(input_size), **kwargs)


class _MemoryTracker(TorchDispatchMode):
    """Follows every tensor storage that an operator creates until it is freed; keeps the running peak in bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.current -= self.live.pop(key)[1]
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type != "cpu":
                continue
            storage = t.untyped_storage()
            if storage._cdata in inputs or storage._cdata in self.live:
                continue  # in-place results and views share a storage that is already counted (or pre-existing)
            self.live[storage._cdata] = (StorageWeakRef(storage), storage.nbytes())
            self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def peak_memory(fn: Callable[[], object], device: str | torch.device = "cpu") -> int:
    """Peak bytes of the tensors that ``fn()`` allocates (above what was allocated before it started).

    CUDA uses the caching allocator's statistics. On the CPU every operator is intercepted and the storages it
    creates are followed until they are freed, which gives the same quantity without an allocator to ask.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    if device.type != "cpu":
        raise ValueError(f"peak_memory measures 'cpu' or 'cuda' devices, not {device.type!r}")
    with _MemoryTracker() as tracker:
        fn()
    return int(tracker.peak)


def saved_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps from one forward pass for the backward pass (activation memory).

    Depends only on the model and the input shape, not on the machine, so it is a stable number to check.
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen.setdefault(storage._cdata, storage.nbytes())
        return t

    params = {p.untyped_storage()._cdata for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    return sum(n for key, n in seen.items() if key not in params and key != x.untyped_storage()._cdata)


def time_call(fn: Callable[[], object], min_run_time: float = 0.2) -> float:
    """Median seconds per call of ``fn()``, repeated for at least ``min_run_time`` seconds.

    ``torch.utils.benchmark.Timer`` does the work: it warms up, waits for the GPU to finish before reading the clock
    (a plain ``time.perf_counter()`` around CUDA calls measures only their launch), and keeps the current number of
    threads. The median is robust to other programs running at the same time.
    """
    timer = TorchTimer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


@dataclass(frozen=True)
class Benchmark:
    images_per_s: float
    ms_per_batch: float
    peak_memory_mb: float


def benchmark(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    device: str | torch.device = "cpu",
    steps: int = 10,
    warmup: int = 2,
    train: bool = False,
) -> Benchmark:
    """Throughput (images/s), time per batch and peak memory of forward (or forward+backward with ``train``).

    Times ``steps`` runs after ``warmup`` untimed ones with ``torch.utils.benchmark.Timer`` (which waits for the
    GPU to finish before reading the clock) and the current number of threads.
    """
    device = torch.device(device)
    model = model.to(device).train(train)
    x = torch.randn(tuple(input_size), device=device)

    def step() -> None:
        with torch.set_grad_enabled(train):
            out = model(x)
            if train:
                out.float().sum().backward()

    for _ in range(warmup):
        step()
    # torch's Timer synchronises CUDA around the timed runs; it runs with one thread unless told otherwise
    timer = TorchTimer(stmt="step()", globals={"step": step}, num_threads=torch.get_num_threads())
    seconds = timer.timeit(steps).mean
    peak = peak_memory(step, device) if device.type in ("cpu", "cuda") else 0
    if train:
        model.zero_grad(set_to_none=True)
    return Benchmark(images_per_s=input_size[0] / seconds, ms_per_batch=1e3 * seconds, peak_memory_mb=peak / 2**20)


# --- per-layer table -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerRow:
    """One leaf module's forward pass: what it outputs and what it holds."""

    name: str
    kind: str
    shape: tuple[int, ...]
    values: int  # elements of the output tensor
    bytes: int  # values × bytes per element
    params: int  # parameters the module itself holds
    inplace: bool  # the output overwrote the input (ReLU(inplace=True)): no new memory


def layer_table(
    model: nn.Module, input_size: Sequence[int] | torch.Tensor, *, device: str | None = None
) -> list[LayerRow]:
    """One row per leaf module in call order (output shape, activation values / bytes, own parameters), via hooks.

    Runs one forward pass in eval mode; a model on the ``meta`` device costs nothing, so VGG at 224×224 is instant.
    """
    x = _example_input(model, input_size, device)
    rows: list[LayerRow] = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output) -> None:
            if not isinstance(output, torch.Tensor):
                return
            first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            rows.append(
                LayerRow(
                    name=name,
                    kind=type(module).__name__,
                    shape=tuple(output.shape),
                    values=output.numel(),
                    bytes=output.numel() * output.element_size(),
                    params=sum(p.numel() for p in module.parameters(recurse=False)),
                    inplace=first is not None and output is first,
                )
            )

        return record

    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return rows


def format_layer_table(rows: Sequence[LayerRow], batch: bool = False) -> str:
    """`layer_table` rows as aligned text (shape without the batch unless ``batch``); totals skip in-place outputs."""
    lines = [f"{'layer':14s} {'type':18s} {'output shape':18s} {'values':>11s} {'KB':>9s} {'params':>12s}"]
    for r in rows:
        shape = "×".join(str(s) for s in (r.shape if batch else r.shape[1:]))
        kind = r.kind + (" (in-place)" if r.inplace else "")
        lines.append(f"{r.name:14s} {kind:18s} {shape:18s} {r.values:11,d} {r.bytes / 1e3:9,.1f} {r.params:12,d}")
    fresh = [r for r in rows if not r.inplace]  # in-place outputs reuse their input's memory
    values, nbytes, params = sum(r.values for r in fresh), sum(r.bytes for r in fresh), sum(r.params for r in rows)
    lines.append(f"{'total (new tensors)':52s} {values:11,d} {nbytes / 1e3:9,.1f} {params:12,d}")
    return "\n".join(lines)


# --- receptive field ---------------------------------------------------------------------------------------------

def receptive_field(model: nn.Module, input_size: Sequence[int]) -> tuple[int, int]:
    """Height and width of the input region that influences the centre output pixel, measured by backpropagation.

    ``input_size`` is ``(1, C, H, W)`` and must be large enough to contain the region. The model is copied and its
    parameters made positive, and the input is all ones, so no gradient cancels by accident (nor does a ReLU cut
    one off). Max-pooling modules become average poolings of the same window in the copy, because max pooling
    passes gradient to one winner only while its output depends on the whole window. The caller's model is not
    changed.
    """
    import copy

    probe = copy.deepcopy(model).eval()
    for parent in list(probe.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    with torch.no_grad():
        for p in probe.parameters():
            p.abs_().add_(1e-3)
    x = torch.ones(tuple(input_size), requires_grad=True)
    out = probe(x)
    if out.dim() != 4:
        raise ValueError(f"receptive_field needs a model that outputs N×C×H×W maps, got shape {tuple(out.shape)}")
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    touched = x.grad[0].abs().sum(dim=0) > 0  # H×W
    rows, cols = touched.any(dim=1).nonzero(), touched.any(dim=0).nonzero()
    height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    if height == input_size[2] or width == input_size[3]:
        raise ValueError(f"the receptive field fills the whole {input_size[2]}×{input_size[3]} input: use a larger one")
    return height, width


# --- gradient norms per layer (chapter 10) -------------------------------------------------------------------------

def gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    kinds: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear),
) -> dict[str, float]:
    """L2 norm of d loss / d weight for every ``kinds`` layer, keyed by module name in definition order.

    One forward and backward pass on the batch ``x``, ``y`` (default loss: cross-entropy), in the model's current
    mode (in train mode BatchNorm normalises with the batch's statistics, as in training). The model is left as it
    was: no ``.grad`` is written and BatchNorm's running statistics are put back.
    """
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, kinds) and m.weight is not None]
    if not layers:
        raise ValueError(f"the model has no {' / '.join(k.__name__ for k in kinds)} layer with a weight")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    try:
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, [m.weight for _, m in layers])
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    return {name: float(g.norm()) for (name, _), g in zip(layers, grads)}


# --- full mode's cost, estimated -----------------------------------------------------------------------------------

# Calibrated on one NVIDIA H200 (torch 2.11, AMP, the tensor pipeline; `tools/bench_steps.py`, 2026-11-26): the
# training FLOP/s a small CNN sustains, the time each layer adds to an optimizer step however little it computes
# (its kernel launches forward and backward and its share of the optimizer's work: small CIFAR networks are bound by
# this, not by FLOPs), and the least time any step takes. With them the estimate came within 0.7-1.4x of the
# measured step time of ResNet-20/-110, DenseNet-BC-100, GoogLeNet, VGG-11 and BiT-R50x1, and overestimated NiN's.
GPU_TRAINING_FLOPS = 25e12
GPU_LAYER_SECONDS = 85e-6
GPU_STEP_SECONDS = 2e-3


def estimate_minutes(
    model: nn.Module, input_size: Sequence[int], *, images: int, epochs: int, batch_size: int, eval_images: int = 0
) -> float:
    """Estimated GPU minutes of a training run from the model's measured FLOPs per image and its number of layers.

    A training step costs three forward passes per image (forward, and a backward of about twice its cost) at
    `GPU_TRAINING_FLOPS` plus `GPU_LAYER_SECONDS` per layer (leaf module), and never less than `GPU_STEP_SECONDS`;
    evaluation costs one forward pass per test image per epoch, and a third of the per-layer time per batch.
    Build ``model`` on the ``meta`` device: counting its FLOPs then costs nothing.
    """
    forward = count_flops(model, (1, *input_size))
    layers = sum(1 for m in model.modules() if next(m.children(), None) is None)
    batches = -(-images // batch_size)
    train_seconds = max(3 * forward * images / GPU_TRAINING_FLOPS + batches * layers * GPU_LAYER_SECONDS,
                        batches * GPU_STEP_SECONDS)
    eval_batches = -(-eval_images // batch_size)
    eval_seconds = forward * eval_images / GPU_TRAINING_FLOPS + eval_batches * layers * GPU_LAYER_SECONDS / 3
    return epochs * (train_seconds + eval_seconds) / 60
