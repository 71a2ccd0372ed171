"""Plots the chapters share: training curves, labelled image grids, and a labelled bubble chart."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.legend import Legend
from matplotlib.transforms import Bbox

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


# --- bubble chart ------------------------------------------------------------------------------------------------

# Where a label may go relative to its point: (dx, dy) direction, and its text alignment there.
_LABEL_SPOTS = [((1, 0), "left", "center"), ((-1, 0), "right", "center"), ((0, 1), "center", "bottom"),
                ((0, -1), "center", "top"), ((0.7, 0.7), "left", "bottom"), ((-0.7, 0.7), "right", "bottom"),
                ((0.7, -0.7), "left", "top"), ((-0.7, -0.7), "right", "top")]


def _overlap(a, b) -> float:
    """Area (pixels²) shared by two matplotlib Bbox objects."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax: plt.Axes, x: Sequence[float], y: Sequence[float], labels: Sequence[str],
                 radii: Sequence[float], fontsize: float = 8) -> list:
    """Label every point without overlaps where possible: each label tries spots around its point (nearest first).

    ``radii`` are the markers' radii in points; a label keeps clear of its own marker, of every other point's centre
    and of the labels already placed, and stays inside the axes. A label placed away from its marker gets a thin
    leader line. Call it after the axes' limits and the figure's layout are final. Returns the annotations.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    centres = ax.transData.transform(np.column_stack([x, y]))
    obstacles = [Bbox.from_bounds(cx - 3, cy - 3, 6, 6) for cx, cy in centres]
    frame = ax.get_window_extent(renderer)
    placed = [child.get_window_extent(renderer) for child in ax.get_children() if isinstance(child, Legend)]
    crowd = [sum(np.hypot(*(centres - c).T) < 60) for c in centres]
    annotations = [None] * len(labels)
    for i in sorted(range(len(labels)), key=lambda i: -crowd[i]):
        best = None
        for extra in (2, 8, 16, 26, 40):
            for (dx, dy), ha, va in _LABEL_SPOTS:
                gap = radii[i] + extra
                probe = ax.annotate(labels[i], (x[i], y[i]), xytext=(dx * gap, dy * gap), textcoords="offset points",
                                    ha=ha, va=va, fontsize=fontsize)
                box = probe.get_window_extent(renderer).expanded(1.02, 1.1)
                probe.remove()
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                clash = sum(_overlap(box, o) for j, o in enumerate(obstacles) if j != i) + sum(
                    _overlap(box, p) for p in placed) + (0 if inside else 1e6)
                if best is None or clash < best[0]:
                    best = (clash, (dx * gap, dy * gap), ha, va, box, extra)
                if clash == 0:
                    break
            if best[0] == 0:
                break
        _, offset, ha, va, box, extra = best
        relpos = ({"left": 0.0, "center": 0.5, "right": 1.0}[ha], {"bottom": 0.0, "center": 0.5, "top": 1.0}[va])
        leader = {"arrowstyle": "-", "lw": 0.6, "color": "0.35", "shrinkA": 1, "shrinkB": radii[i], "relpos": relpos}
        annotations[i] = ax.annotate(labels[i], (x[i], y[i]), xytext=offset, textcoords="offset points", ha=ha,
                                     va=va, fontsize=fontsize, arrowprops=leader if extra > 2 else None)
        placed.append(box)
    return annotations


def bubble_chart(
    x: Sequence[float],
    y: Sequence[float],
    sizes: Sequence[float],
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    *,
    size_legend: Sequence[float] = (),
    size_unit: str = "",
    xlog: bool = True,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    max_radius: float = 22.0,
    figsize: tuple[float, float] = (12, 7.5),
) -> plt.Figure:
    """A scatter plot whose bubble **area** is proportional to ``sizes``, every point labelled.

    ``groups`` colours the points and names them in a legend; ``size_legend`` lists reference sizes for a second
    legend (labelled with ``size_unit``). The largest size gets radius ``max_radius`` points, and every bubble at
    least 3 points so that small ones stay visible. Labels are placed by `place_labels`.
    """
    n = len(x)
    if not (len(y) == len(sizes) == len(labels) == n) or (groups is not None and len(groups) != n):
        raise ValueError("x, y, sizes, labels (and groups) must have the same length")
    if n == 0:
        raise ValueError("bubble_chart needs at least one point")
    largest = max(sizes)

    def radius(size: float) -> float:
        return max(3.0, max_radius * math.sqrt(size / largest))  # area ∝ size; radius in points

    radii = [radius(s) for s in sizes]
    names = list(dict.fromkeys(groups)) if groups is not None else [""]
    palette = [f"C{i}" for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # no grey (C7): it is the size legend's colour
    colour = {g: palette[k % len(palette)] for k, g in enumerate(names)}
    fig, ax = plt.subplots(figsize=figsize)
    for g in names:
        idx = [i for i in range(n) if groups is None or groups[i] == g]
        ax.scatter([x[i] for i in idx], [y[i] for i in idx], s=[(2 * radii[i]) ** 2 for i in idx], color=colour[g],
                   alpha=0.45, edgecolor="k", linewidth=0.6)
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0.12, y=0.1)
    if groups is not None:
        handles = [ax.scatter([], [], s=60, color=colour[g], alpha=0.45, edgecolor="k") for g in names]
        ax.add_artist(ax.legend(handles, names, loc="upper left", fontsize="small"))
    if size_legend:
        handles = [ax.scatter([], [], s=(2 * radius(s)) ** 2, color="grey", alpha=0.3, edgecolor="k")
                   for s in size_legend]
        ax.legend(handles, [f"{s:g} {size_unit}".strip() for s in size_legend], loc="lower right",
                  labelspacing=1.8, borderpad=1.2, fontsize="small", title="bubble area")
    fig.tight_layout()
    fig.canvas.draw()  # fix the layout and the limits before measuring where labels fit
    place_labels(ax, x, y, labels, radii)
    return fig


# --- pretrained predictions (chapters 04 on, full mode) ----------------------------------------------------------


def plot_top_classes(
    photo: np.ndarray, probs: torch.Tensor, categories: Sequence[str], title: str, k: int = 5
) -> plt.Figure:
    """A photo beside the ``k`` most probable of ``categories`` (``probs``: one probability per class) as bars."""
    if len(probs) != len(categories):
        raise ValueError(f"got {len(probs)} probabilities for {len(categories)} categories")
    top = torch.as_tensor(probs).detach().float().cpu().topk(k)
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(11, 3.5), gridspec_kw={"width_ratios": [1, 1.4]})
    ax_img.imshow(photo)
    ax_img.axis("off")
    ax_img.set_title("the photo")
    names = [categories[i] for i in top.indices.tolist()]
    ax_bar.barh(names[::-1], 100 * top.values.numpy()[::-1])
    ax_bar.set_xlabel("predicted probability (%)")
    ax_bar.set_title(title)
    fig.tight_layout()
    return fig
