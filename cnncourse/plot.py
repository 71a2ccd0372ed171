"""Plots the chapters share: training curves and labelled image grids."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .train import History

_METRIC_LABELS = {"loss": "cross-entropy loss", "acc": "accuracy (%)"}


def plot_history(
    histories: History | Mapping[str, History],
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
) -> plt.Figure:
    """Loss and accuracy per epoch, training (solid) and validation (dashed); pass a dict to compare runs."""
    runs = {"": histories} if isinstance(histories, History) else dict(histories)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (name, hist) in enumerate(runs.items()):
            color = f"C{i}"
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                if not hist.epochs or key not in hist.epochs[0]:
                    continue
                values = np.asarray(hist[key], dtype=float) * (100 if metric == "acc" else 1)
                label = f"{name} {split}".strip()
                ax.plot(hist["epoch"], values, style, color=color, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.set_title(f"{_METRIC_LABELS.get(metric, metric)} per epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _to_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    a = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)  # C×H×W -> H×W×C
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


def _grid(n: int, ncols: int, size: float, title: str | None):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.5 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def show_images(
    images: torch.Tensor | np.ndarray | Sequence,
    labels: Sequence | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
    size: float = 1.4,
) -> plt.Figure:
    """A grid of images (N×C×H×W, N×H×W or H×W×C each) with optional labels above them."""
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {n} images but {len(labels)} labels")
    fig, axes = _grid(n, ncols, size, title)
    for i, ax in zip(range(n), axes):
        img = _to_hwc(images[i])
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- chapters 01–03: filters, feature maps, activation functions, confusion matrix --------------------------------


def plot_filters(
    weight: torch.Tensor | np.ndarray, ncols: int = 8, title: str | None = None, size: float = 1.2
) -> plt.Figure:
    """Convolution kernels (F×C×kh×kw) as images, one per filter; each on a symmetric colour scale around 0.

    Single-channel kernels use a diverging colour map (red positive, blue negative); 3-channel kernels are shown as
    RGB after scaling each filter to [0, 1].
    """
    w = weight.detach().cpu().float().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight, float)
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"plot_filters needs F×C×kh×kw weights with C = 1 or 3, got shape {w.shape}")
    fig, axes = _grid(len(w), ncols, size, title)
    for i, (ax, f) in enumerate(zip(axes, w)):
        if f.shape[0] == 1:
            lim = float(np.abs(f).max()) or 1.0
            ax.imshow(f[0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow((f - f.min()).transpose(1, 2, 0) / (np.ptp(f) or 1.0))
        ax.set_title(f"filter {i}", fontsize="x-small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(
    maps: torch.Tensor | np.ndarray, ncols: int = 8, title: str | None = None, size: float = 1.2, cmap: str = "viridis"
) -> plt.Figure:
    """The channels of one activation (C×H×W, or 1×C×H×W) as a grid of images, each on its own colour scale."""
    a = maps.detach().cpu().float().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps, float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"plot_feature_maps needs C×H×W (or 1×C×H×W) maps, got shape {a.shape}")
    fig, axes = _grid(len(a), ncols, size, title)
    for i, (ax, m) in enumerate(zip(axes, a)):
        ax.imshow(m, cmap=cmap)
        ax.set_title(f"channel {i}", fontsize="x-small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_activation_functions(
    functions: Mapping[str, Callable[[torch.Tensor], torch.Tensor]], x_range: tuple[float, float] = (-5.0, 5.0), points: int = 501
) -> plt.Figure:
    """Each activation function (name -> callable on tensors) and its derivative, computed by autograd."""
    x = torch.linspace(*x_range, points, requires_grad=True)
    fig, axes = plt.subplots(1, len(functions), figsize=(3.6 * len(functions), 3.2), squeeze=False)
    for ax, (name, fn) in zip(axes[0], functions.items()):
        y = fn(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        xs = x.detach().numpy()
        ax.plot(xs, y.detach().numpy(), lw=2, label=f"{name}(x)")
        ax.plot(xs, grad.numpy(), lw=2, ls="--", label=f"d {name}/dx")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("input x")
        ax.set_ylabel("output / derivative")
        ax.set_title(f"{name}: max derivative {float(grad.max()):.2f}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def confusion_matrix(
    labels: Sequence[int] | torch.Tensor, preds: Sequence[int] | torch.Tensor, num_classes: int
) -> np.ndarray:
    """Counts ``m[true, predicted]`` over all examples (rows: true class, columns: predicted class)."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    t, p = np.asarray(labels, dtype=int).ravel(), np.asarray(preds, dtype=int).ravel()
    if t.shape != p.shape:
        raise ValueError(f"got {t.size} labels but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"labels and predictions must lie in 0 … {num_classes - 1}")
    return sk_confusion_matrix(t, p, labels=np.arange(num_classes))


def plot_confusion_matrix(
    labels: Sequence[int] | torch.Tensor,
    preds: Sequence[int] | torch.Tensor,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> plt.Figure:
    """A confusion matrix with the count in every non-empty cell (rows: true class, columns: predicted class)."""
    n = len(class_names) if class_names is not None else int(max(np.max(labels), np.max(preds))) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    m = confusion_matrix(labels, preds, n)
    fig, ax = plt.subplots(figsize=(0.5 * n + 2.5, 0.5 * n + 2))
    im = ax.imshow(m, cmap="Blues")
    for (i, j), count in np.ndenumerate(m):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize="small",
                    color="white" if count > m.max() / 2 else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(m) / max(1, m.sum())
    ax.set_title(title or f"confusion matrix ({m.sum()} examples, accuracy {accuracy:.1%})")
    fig.colorbar(im, ax=ax, label="number of examples")
    fig.tight_layout()
    return fig
