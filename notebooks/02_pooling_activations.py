# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Pooling, activations and local response normalisation
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/02_pooling_activations.ipynb)
#
# A convolution alone is linear, and it keeps the image's full resolution. Classic CNNs interleave it with
# three other pieces, which this chapter builds and measures:
#
# - **pooling** shrinks the feature maps and makes the network tolerant to small shifts of the input;
# - an **activation function** makes the network non-linear — and decides whether gradients survive a deep
#   stack of layers;
# - **local response normalisation** (LRN), AlexNet's way of making channels compete, since replaced by batch
#   normalisation (chapter 08).
#
# Pooling and LRN are written in NumPy on top of chapter 01's img2col and checked against PyTorch.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import inspect
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import cnncourse
from cnncourse import data, plot, scratch

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Pooling by hand
#
# A pooling layer slides a window over each channel *separately* and replaces the window by one number: its
# maximum (**max pooling**) or its mean (**average pooling**). It has no parameters and does not change the number
# of channels; with a 2×2 window and stride 2 it halves height and width. Output sizes follow chapter 01's formula.
#
# img2col does the work again: treat every channel as its own one-channel image, unroll the windows into rows,
# and take the maximum or the mean of each row. On a 4×4 example:

# %%
# NBVAL_CHECK_OUTPUT
x = np.array([[1, 3, 2, 0], [4, 8, 1, 1], [0, 2, 9, 5], [7, 1, 6, 3]], dtype=np.float64)[None, None]
rows = scratch.img2col(x, 2, 2, stride=2)
print("windows as rows (2×2, stride 2):\n", rows.astype(int))
print("max of each row :", rows.max(axis=1).astype(int), "-> max_pool2d:\n", scratch.max_pool2d(x, 2)[0, 0])
print("mean of each row:", rows.mean(axis=1), "-> avg_pool2d:\n", scratch.avg_pool2d(x, 2)[0, 0])

# %% [markdown]
# `scratch.max_pool2d` and `scratch.avg_pool2d` do exactly this for N×C×H×W batches (the source is short):

# %%
print(inspect.getsource(scratch.max_pool2d))

# %% [markdown]
# **Padding needs care.** Max pooling pads with $-\infty$, so a padded cell can never be the maximum. Average
# pooling pads with zeros, and then there are two conventions for the divisor: PyTorch's default
# `count_include_pad=True` divides every window by its full size $k_h k_w$ (the zeros count), while
# `count_include_pad=False` divides by the number of real pixels in the window. `scratch.avg_pool2d` implements
# both, with PyTorch's default as its default. Both functions agree with PyTorch on random batches with
# non-square windows, stride and padding:

# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
xb = rng.standard_normal((2, 3, 11, 9)).astype(np.float32)
tb = torch.from_numpy(xb)
for kernel, stride, padding in [(2, 2, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 0))]:
    same_max = np.array_equal(scratch.max_pool2d(xb, kernel, stride, padding), F.max_pool2d(tb, kernel, stride, padding).numpy())
    errs = [
        np.abs(scratch.avg_pool2d(xb, kernel, stride, padding, count_include_pad=inc)
               - F.avg_pool2d(tb, kernel, stride, padding, count_include_pad=inc).numpy()).max()
        for inc in (True, False)
    ]
    print(f"kernel {kernel}, stride {stride}, padding {padding}: output {scratch.max_pool2d(xb, kernel, stride, padding).shape}, "
          f"max pool identical: {same_max}, avg pool (both conventions) max abs error < 1e-6: {max(errs) < 1e-6}")
corner_true = scratch.avg_pool2d(np.ones((1, 1, 4, 4)), 3, 1, 1, count_include_pad=True)[0, 0, 0, 0]
corner_false = scratch.avg_pool2d(np.ones((1, 1, 4, 4)), 3, 1, 1, count_include_pad=False)[0, 0, 0, 0]
print(f"corner of an all-ones image, 3×3 window, padding 1: count_include_pad=True -> {corner_true:.4f} (4/9), "
      f"False -> {corner_false:.4f}")

# %% [markdown]
# ## What pooling buys: tolerance to small shifts
#
# Chapter 01 showed that a convolution is *equivariant*: shift the input, the feature map shifts with it. For
# recognising *what* is in an image, we would rather have features that barely change when the object moves by
# a pixel or two. Pooling gives that: a maximum over an 8×8 window stays the same as long as the strongest
# response stays inside the window.
#
# We take a crop of the photo, compute an edge map (absolute Sobel-x response), and compare it with the edge map
# of the crop shifted right by 1–8 pixels — without re-aligning them, as a next layer would see them. The
# similarity is the correlation coefficient of the two maps (1 = identical).

# %%
photo = data.sample_image("china.jpg").astype(np.float32) / 255.0
grey = (photo @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[::2, ::2]  # 214×320
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)[None, None]


def edges(img: np.ndarray) -> np.ndarray:
    return np.abs(scratch.conv2d(img[None, None], sobel_x, padding=1))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


reference = edges(grey[16:176, 16:272])  # a 160×256 crop
shifts = list(range(9))
curves = {"no pooling": [], "8×8 average pooling": [], "8×8 max pooling": []}
for s in shifts:
    moved = edges(grey[16:176, 16 + s : 272 + s])  # the same scene, moved s pixels to the left in the crop
    curves["no pooling"].append(similarity(reference, moved))
    curves["8×8 average pooling"].append(similarity(scratch.avg_pool2d(reference, 8), scratch.avg_pool2d(moved, 8)))
    curves["8×8 max pooling"].append(similarity(scratch.max_pool2d(reference, 8), scratch.max_pool2d(moved, 8)))

# %%
# NBVAL_CHECK_OUTPUT
print("feature map sizes:", reference.shape, "-> pooled", scratch.max_pool2d(reference, 8).shape)
print("both pooled maps are more similar to the unshifted ones than the raw edge maps, for every shift 1-8 px:",
      all(curves[p][s] > curves["no pooling"][s] for p in ("8×8 average pooling", "8×8 max pooling") for s in shifts[1:]))

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for (name, values), marker in zip(curves.items(), "o^s"):
    ax.plot(shifts, values, marker=marker, label=name)
ax.set_xlabel("horizontal shift of the image (pixels)")
ax.set_ylabel("correlation with the unshifted features")
ax.set_title("Edge features of a shifted photo: pooling makes them tolerant")
ax.set_ylim(0, 1.02)
ax.grid(alpha=0.3)
ax.legend()
plt.show()
print("similarity after a 2-pixel shift:", {k: round(v[2], 2) for k, v in curves.items()})

# %% [markdown]
# A one-pixel shift already drops the raw edge map's correlation sharply, because edges are thin; the pooled maps
# degrade slowly. Max pooling holds up best for larger shifts: a strong edge keeps the window's maximum until it
# leaves the window. The price is resolution — 8×8 pooling keeps one number out of 64 — which later layers
# compensate with more channels.
#
# ## Activation functions and their gradients
#
# Without a non-linearity between them, two convolutions collapse into one (a product of linear maps is linear).
# The three classic choices, with the derivatives that back-propagation multiplies together:
#
# - **sigmoid** $\sigma(x) = 1/(1+e^{-x})$, derivative $\sigma(x)(1-\sigma(x)) \le 1/4$;
# - **tanh** $= 2\sigma(2x) - 1$, derivative $1 - \tanh^2(x) \le 1$;
# - **ReLU** $\max(0, x)$, derivative exactly 1 for $x > 0$ and 0 for $x < 0$.
#
# We write them as plain tensor code and let autograd compute the derivatives:

# %%
activations = {
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
    "ReLU": lambda x: x * (x > 0),
}
fig = plot.plot_activation_functions(activations, x_range=(-5, 5))
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
z = torch.linspace(-6, 6, 1201, dtype=torch.float64)
builtin = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "ReLU": torch.relu}
for name, fn in activations.items():
    err = (fn(z) - builtin[name](z)).abs().max().item()
    zz = torch.tensor([-3.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)  # the derivative at -3, 0 and 3
    (grad,) = torch.autograd.grad(fn(zz).sum(), zz)
    print(f"{name:8s} equals torch.{builtin[name].__name__} (error < 1e-12: {err < 1e-12}); "
          f"derivative at -3, 0, 3: {[round(g, 4) for g in grad.tolist()]}")

# %% [markdown]
# (ReLU has no derivative at exactly 0; autograd uses 0 there.) The sigmoid's slope never exceeds 1/4, and
# both saturating functions have slopes near 0 for large $|x|$.
#
# ## Vanishing gradients, measured
#
# Back-propagation multiplies one activation derivative per layer. With the sigmoid, each factor is at most
# 1/4, so in a deep stack the gradient reaching the first layers shrinks geometrically. We build three
# 20-layer fully-connected stacks (64 units wide), each initialised the way its activation is meant to be
# (Xavier for sigmoid and tanh, He/Kaiming for ReLU), push one batch of random inputs with random labels
# through, and record the gradient norm of every layer's weights.

# %%
def layer_gradient_norms(activation: type[nn.Module], depth: int = 20, width: int = 64, seed: int = 0) -> list[float]:
    """Norm of d(loss)/d(weights) for each hidden layer of a freshly initialised `depth`-layer stack."""
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if activation is nn.ReLU:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        else:
            nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    net = nn.Sequential(*layers, nn.Linear(width, 10))
    x, y = torch.randn(256, width), torch.randint(0, 10, (256,))
    F.cross_entropy(net(x), y).backward()
    return [net[2 * i].weight.grad.norm().item() for i in range(depth)]


norms = {name: layer_gradient_norms(act) for name, act in [("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("ReLU", nn.ReLU)]}
for name, values in norms.items():
    print(f"{name:8s} gradient norm, layer 1: {values[0]:.1e}, layer 20: {values[-1]:.1e}, "
          f"ratio first/last: {values[0] / values[-1]:.1e}")
assert norms["sigmoid"][0] / norms["sigmoid"][-1] < 1e-6  # vanished
assert norms["ReLU"][0] / norms["ReLU"][-1] > 0.1 and norms["tanh"][0] / norms["tanh"][-1] > 0.1  # did not

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name, values in norms.items():
    ax.semilogy(range(1, 21), values, "o-", label=name)
ax.set_xlabel("layer (1 = closest to the input)")
ax.set_ylabel("gradient norm of the layer's weights (log scale)")
ax.set_title("Gradients through a 20-layer stack at initialisation")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()

# %% [markdown]
# The sigmoid stack's first layer receives a gradient many orders of magnitude smaller than its last layer (the
# printed ratio): with plain gradient descent it would barely learn. Tanh, whose slope is 1 near 0, and ReLU,
# whose slope is exactly 1 wherever it is active, pass gradients through intact at this depth. This is why
# AlexNet (chapter 04) switched to ReLU, and why deeper networks still needed better initialisation, batch
# normalisation (08) and residual connections (10).
#
# ## Local response normalisation
#
# AlexNet normalised each activation by the activity of the same pixel in neighbouring channels — a form of
# "lateral inhibition": a strongly responding channel damps its neighbours. PyTorch's `nn.LocalResponseNorm`
# defines it as
#
# $$b_c = a_c \Big/ \Big(k + \frac{\alpha}{n} \sum_{c'=c-\lfloor n/2 \rfloor}^{c+\lfloor (n-1)/2 \rfloor} a_{c'}^2\Big)^{\beta}$$
#
# with channels outside $0 \dots C-1$ counting as zero. Note $\alpha/n$: the AlexNet paper writes plain
# $\alpha$ (its setting: $n=5$, $k=2$, $\alpha=10^{-4}$, $\beta=0.75$), so reproducing the paper in PyTorch
# means passing `alpha=5e-4`. The formula as a loop over channels (teaching code):

# %%
def lrn_loops(a: np.ndarray, n: int, alpha: float, beta: float, k: float, divide_by_n: bool = True) -> np.ndarray:
    """LRN across channels, one channel at a time; `divide_by_n=False` is the AlexNet paper's formula."""
    out = np.empty_like(a)
    channels = a.shape[1]
    for c in range(channels):
        lo, hi = max(0, c - n // 2), min(channels - 1, c + (n - 1) // 2)
        total = (a[:, lo : hi + 1] ** 2).sum(axis=1)
        out[:, c] = a[:, c] / (k + (alpha / n if divide_by_n else alpha) * total) ** beta
    return out


# %%
# NBVAL_CHECK_OUTPUT
a = (10 * rng.standard_normal((2, 16, 6, 6))).astype(np.float32)  # large activations; float32 rounding ~1e-6
torch_lrn = nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)(torch.from_numpy(a)).numpy()
print(f"loops vs nn.LocalResponseNorm, max abs error < 1e-5: {np.abs(lrn_loops(a, 5, 1e-4, 0.75, 2.0) - torch_lrn).max() < 1e-5}")
print(f"scratch.local_response_norm vs nn.LocalResponseNorm, max abs error < 1e-5: "
      f"{np.abs(scratch.local_response_norm(a, 5, 1e-4, 0.75, 2.0) - torch_lrn).max() < 1e-5}")
paper = lrn_loops(a, 5, 1e-4, 0.75, 2.0, divide_by_n=False)
torch_paper = nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)(torch.from_numpy(a)).numpy()
print(f"paper formula (alpha=1e-4) == nn.LocalResponseNorm(alpha=5e-4), max abs error < 1e-5: "
      f"{np.abs(paper - torch_paper).max() < 1e-5}")
print(f"paper formula == nn.LocalResponseNorm(alpha=1e-4) (the naive port): {np.abs(paper - torch_lrn).max() < 1e-5}")

# %% [markdown]
# What it does to one pixel: channel 7 responds much more strongly than the others. After LRN, channel 7 and
# the channels within 2 of it (its window, and the windows it falls into) are divided by much more than the rest;
# channels farther away only get the mild damping that $k$ and their own small values give.

# %%
pixel = np.full((1, 16, 1, 1), 5.0, dtype=np.float32)
pixel[0, 7] = 60.0
normed = scratch.local_response_norm(pixel, size=5, alpha=5e-4, beta=0.75, k=2.0)  # the AlexNet paper's setting
fig, ax = plt.subplots(figsize=(7, 3.4))
ax.bar(np.arange(16) - 0.2, pixel.ravel(), width=0.4, label="before LRN")
ax.bar(np.arange(16) + 0.2, normed.ravel(), width=0.4, label="after LRN (n=5, k=2, paper α=1e-4)")
ax.set_xlabel("channel")
ax.set_ylabel("activation at one pixel")
ax.set_title("LRN: a strong channel damps itself and its 4 neighbours")
ax.legend()
ax.grid(alpha=0.3, axis="y")
plt.show()
print("output / input per channel:", np.round(normed.ravel() / pixel.ravel(), 3))

# %% [markdown]
# VGG (chapter 05) found that LRN did not improve accuracy, and batch normalisation replaced it entirely; it
# survives in this course because AlexNet's paper variant (chapter 04) uses it.
#
# ## Adaptive average pooling
#
# Networks end in fully-connected layers that expect a fixed number of inputs, but images come in many sizes.
# `nn.AdaptiveAvgPool2d(out)` picks window sizes and strides *from the input* so that the output is always
# `out`×`out`. torchvision's AlexNet and VGG use `AdaptiveAvgPool2d(7)` (or 6) before their classifier; with
# `out=1` it is global average pooling (chapter 06). For output cell $i$ of $O$ along an axis of length $H$,
# the window runs from $\lfloor iH/O \rfloor$ to $\lceil (i+1)H/O \rceil$ (exclusive):

# %%
def adaptive_avg_pool2d(x: np.ndarray, out: int) -> np.ndarray:
    """Adaptive average pooling to out×out, window bounds as PyTorch computes them (teaching code)."""
    n, c, h, w = x.shape
    result = np.empty((n, c, out, out), dtype=x.dtype)
    for i in range(out):
        r0, r1 = (i * h) // out, math.ceil((i + 1) * h / out)
        for j in range(out):
            c0, c1 = (j * w) // out, math.ceil((j + 1) * w / out)
            result[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return result


# %%
# NBVAL_CHECK_OUTPUT
pool7 = nn.AdaptiveAvgPool2d(7)
print(f"{'input':>9s} -> {'output':>8s}  by hand == PyTorch")
for size in (4, 7, 10, 13, 14, 32, 55):
    xs = rng.standard_normal((1, 4, size, size)).astype(np.float32)
    ref = pool7(torch.from_numpy(xs)).numpy()
    ok = np.abs(adaptive_avg_pool2d(xs, 7) - ref).max() < 1e-6
    print(f"{size:4d}×{size:<4d} -> {ref.shape[2]}×{ref.shape[3]}       {ok}")
xs = rng.standard_normal((1, 4, 14, 14)).astype(np.float32)
print("14×14 -> 7×7 equals plain avg_pool2d(kernel 2, stride 2):",
      np.abs(scratch.avg_pool2d(xs, 2) - pool7(torch.from_numpy(xs)).numpy()).max() < 1e-6)

# %% [markdown]
# When the input size is a multiple of the output size, adaptive pooling is ordinary average pooling with
# kernel = stride = input/output. Otherwise the windows may differ in size and overlap (10 → 7 uses windows of
# 2 pixels, some sharing a pixel), and even an input *smaller* than 7×7 works: neighbouring windows then reuse
# the same pixels.

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/02_pooling_activations.ipynb](solutions/02_pooling_activations.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/02_pooling_activations.ipynb)
#
# 1. Write `scratch`-style max pooling that also returns the position of each maximum (the `argmax` of each
#    img2col row). How would back-propagation use it?
# 2. Repeat the shift experiment with 4×4 and 16×16 pooling windows. How does the window size trade tolerance
#    against resolution?
# 3. Replace the sigmoid stack's Xavier initialisation by a much larger one (`std=1`). Do the gradients still
#    vanish? Plot the activations' distribution in layer 10 to see why.
# 4. For LRN with $n=5$, which channels change when only channel 0 is large? Check the padding convention
#    against `nn.LocalResponseNorm` with an even `size=4`.
# 5. Show that `nn.AdaptiveAvgPool2d(1)` equals `x.mean(dim=(2, 3), keepdim=True)`.
