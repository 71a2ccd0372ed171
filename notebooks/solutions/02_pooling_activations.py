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
# # Solutions · 02 Pooling, activations and local response normalisation
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/02_pooling_activations.ipynb)
#
# Worked solutions to the exercises of [chapter 02](../02_pooling_activations.ipynb). Try each exercise before
# reading its solution. Every answer is computed by the code next to it and checked (an `assert`, or a cell whose
# output nbval compares); the text after it explains the result.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import cnncourse
from cnncourse import data, scratch

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Exercise 1
#
# Write `scratch`-style max pooling that also returns the position of each maximum (the `argmax` of each img2col
# row). How would back-propagation use it?
#
# The `argmax` of a row says where in its window the maximum sits; adding the window's top-left corner turns it into
# a position in the input. We return it as PyTorch's `F.max_pool2d(..., return_indices=True)` does: the flat index
# `row · W + column` within each channel's H×W plane, so the two can be compared directly.

# %%
def max_pool2d_with_argmax(x: np.ndarray, kernel_size: int, stride: int | None = None):
    """Max pooling without padding (N×C×H×W) plus the flat index row·W + column of each maximum in its channel."""
    n, c, h, w = x.shape
    k, s = kernel_size, stride or kernel_size
    oh, ow = scratch.conv_output_size(h, k, s), scratch.conv_output_size(w, k, s)
    cols = scratch.img2col(x.reshape(n * c, 1, h, w), k, k, s)  # (N·C·OH·OW, k·k): one row per window
    where = cols.argmax(axis=1)  # position inside the window, row-major
    values = cols[np.arange(len(cols)), where]
    out_row, out_col = np.divmod(np.tile(np.arange(oh * ow), n * c), ow)  # each window's output position
    row, col = out_row * s + where // k, out_col * s + where % k  # ... and its maximum's input position
    return values.reshape(n, c, oh, ow), (row * w + col).reshape(n, c, oh, ow)


def max_pool2d_backward(grad_out: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Route every output gradient to the input pixel that won its window; other pixels get 0."""
    n, c, h, w = input_shape
    grad = np.zeros((n * c, h * w), dtype=grad_out.dtype)
    plane = np.repeat(np.arange(n * c), indices[0, 0].size)
    np.add.at(grad, (plane, indices.reshape(-1)), grad_out.reshape(-1))  # add: overlapping windows may share a winner
    return grad.reshape(input_shape)


# %%
# NBVAL_CHECK_OUTPUT
for k, s in [(2, 2), (3, 2), (3, 1)]:
    x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)  # random floats: no ties inside a window
    values, indices = max_pool2d_with_argmax(x, k, s)
    xt = torch.from_numpy(x).requires_grad_()
    ref, ref_indices = F.max_pool2d(xt, k, s, return_indices=True)
    grad_out = rng.standard_normal(values.shape).astype(np.float32)
    ref.backward(torch.from_numpy(grad_out))
    ours_grad = max_pool2d_backward(grad_out, indices, x.shape)
    print(f"kernel {k}, stride {s}: output {values.shape}, "
          f"values equal: {np.array_equal(values, ref.detach().numpy())}, "
          f"indices equal: {np.array_equal(indices, ref_indices.numpy())}, "
          f"gradient vs autograd max abs error < 1e-6: {np.abs(ours_grad - xt.grad.numpy()).max() < 1e-6}")
    assert np.array_equal(indices, ref_indices.numpy()) and np.abs(ours_grad - xt.grad.numpy()).max() < 1e-6

# %% [markdown]
# Back-propagation needs exactly these positions. The output of a window is its maximum, so a small change of the
# winning pixel changes the output one for one, and a small change of any other pixel changes nothing: the
# gradient of each output goes to its window's winner and the rest of the window gets 0. The forward pass stores the
# indices (PyTorch keeps them as 8-byte integers, which chapter 05's memory count includes) and the backward pass
# scatters the output gradients to them, adding up where overlapping windows (3×3 with stride 1 or 2) share a winner.

# %% [markdown]
# ## Exercise 2
#
# Repeat the shift experiment with 4×4 and 16×16 pooling windows. How does the window size trade tolerance against
# resolution?
#
# The same experiment as the chapter — edge maps (|Sobel x|) of a 160×256 crop of the photo, compared with those of
# the crop shifted by 0–8 pixels — with pooling windows of 4, 8 and 16 pixels:

# %%
photo = data.sample_image("china.jpg").astype(np.float32) / 255.0
grey = (photo @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[::2, ::2]  # 214×320
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)[None, None]


def edges(img: np.ndarray) -> np.ndarray:
    return np.abs(scratch.conv2d(img[None, None], sobel_x, padding=1))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation coefficient of two maps (1 = identical up to scale and offset)."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


reference = edges(grey[16:176, 16:272])
shifts = list(range(9))
windows = (4, 8, 16)
pools = {"average": scratch.avg_pool2d, "max": scratch.max_pool2d}
curves = {(kind, k): [] for kind in pools for k in windows}
for s in shifts:
    moved = edges(grey[16:176, 16 + s : 272 + s])
    for (kind, k), values in curves.items():
        values.append(similarity(pools[kind](reference, k), pools[kind](moved, k)))

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'window':>7s} {'pooled map':>11s} {'values kept':>12s} {'mean similarity, shifts 1-8':>29s}")
for k in windows:
    size = scratch.max_pool2d(reference, k).shape[2:]
    print(f"{k:4d}×{k:<2d} {size[0]:6d}×{size[1]:<4d} {f'1 in {k * k}':>12s} "
          f"{'avg %.2f, max %.2f' % tuple(np.mean(curves[(kind, k)][1:]) for kind in pools):>29s}")
for kind in pools:
    means = [np.mean(curves[(kind, k)][1:]) for k in windows]
    assert means[0] < means[1] < means[2], f"{kind} pooling: tolerance does not grow with the window"

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
for ax, kind in zip(axes, pools):
    for k, marker in zip(windows, "o^s"):
        ax.plot(shifts, curves[(kind, k)], marker=marker, label=f"{k}×{k} window")
    ax.set_title(f"{kind} pooling")
    ax.set_xlabel("horizontal shift of the image (pixels)")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("correlation with the unshifted features")
axes[0].set_ylim(0, 1.02)
fig.suptitle("Edge features of a shifted photo: larger pooling windows tolerate larger shifts")
fig.tight_layout()
plt.show()

# %% [markdown]
# The larger the window, the more slowly the pooled features change with the shift: a 16×16 maximum stays put
# until the strongest edge leaves a 16-pixel window, while a 4×4 one changes after a few pixels. The price is
# resolution: each doubling of the window keeps a quarter as many values (the printed map sizes), and with them the
# information *where* in the window a feature was. Networks therefore pool a little at a time (2×2 or 3×3 per
# stage) and let depth add up the tolerance, instead of one big window that would throw away the layout at once.

# %% [markdown]
# ## Exercise 3
#
# Replace the sigmoid stack's Xavier initialisation by a much larger one (`std=1`). Do the gradients still vanish?
# Plot the activations' distribution in layer 10 to see why.
#
# The chapter's 20-layer sigmoid stack (64 units wide, one batch of 256 random inputs with random labels), once with
# Xavier's initialisation and once with every weight drawn from N(0, 1):

# %%
def sigmoid_stack(std: float | None, depth: int = 20, width: int = 64, seed: int = 0):
    """Gradient norm of every layer's weights and the activations of layer 10, for Xavier (None) or N(0, std²)."""
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        nn.init.xavier_normal_(linear.weight) if std is None else nn.init.normal_(linear.weight, 0.0, std)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Sigmoid()]
    net = nn.Sequential(*layers, nn.Linear(width, 10))
    x, y = torch.randn(256, width), torch.randint(0, 10, (256,))
    layer10 = net[:20](x).detach()  # after the 10th sigmoid
    F.cross_entropy(net(x), y).backward()
    return [net[2 * i].weight.grad.norm().item() for i in range(depth)], layer10, net[0].weight.std().item()


runs = {"Xavier (std 0.125)": sigmoid_stack(None), "N(0, 1)": sigmoid_stack(1.0)}
for name, (norms, acts, w_std) in runs.items():
    slope = acts * (1 - acts)  # the sigmoid's derivative at every unit
    saturated = ((acts < 0.05) | (acts > 0.95)).float().mean().item()
    gain = w_std * 64**0.5 * slope.pow(2).mean().sqrt().item()  # how much one layer scales the backward signal
    print(f"{name:18s} gradient norm layer 1 / layer 20: {norms[0] / norms[-1]:.1e}; layer 10: "
          f"{saturated:.0%} of units saturated, mean slope {slope.mean():.3f}, backward gain per layer ≈ {gain:.2f}")
xavier_ratio = runs["Xavier (std 0.125)"][0][0] / runs["Xavier (std 0.125)"][0][-1]
large_ratio = runs["N(0, 1)"][0][0] / runs["N(0, 1)"][0][-1]
assert xavier_ratio < 1e-6 and large_ratio > 1e-3  # Xavier's vanish; the large weights' do not
assert ((runs["N(0, 1)"][1] < 0.05) | (runs["N(0, 1)"][1] > 0.95)).float().mean() > 0.3  # ... but many units saturate

# %%
fig, (ax_hist, ax_grad) = plt.subplots(1, 2, figsize=(12, 3.8))
for name, (norms, acts, _) in runs.items():
    ax_hist.hist(acts.flatten().numpy(), bins=50, range=(0, 1), alpha=0.6, label=name)
    ax_grad.semilogy(range(1, 21), norms, "o-", label=name)
ax_hist.set_xlabel("activation after layer 10's sigmoid")
ax_hist.set_ylabel("number of values (256 inputs × 64 units)")
ax_hist.set_title("Layer 10: where the activations sit")
ax_hist.legend()
ax_grad.set_xlabel("layer (1 = closest to the input)")
ax_grad.set_ylabel("gradient norm of the layer's weights (log)")
ax_grad.set_title("Gradients through the 20 sigmoid layers")
ax_grad.grid(alpha=0.3, which="both")
ax_grad.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Measured, the gradients do **not** vanish any more — but not because anything is healthy. With Xavier's weights the
# activations huddle around 0.5, where the sigmoid's slope is at most 1/4, and each layer multiplies the backward
# signal by about a quarter (the printed gain): over 19 layers that is the 10⁻¹² of the chapter. With N(0, 1) the
# weights are eight times larger, so the pre-activations are large and the histogram splits into two spikes at 0 and
# 1: most units are saturated and pass (almost) no gradient at all. The few unsaturated units, multiplied by the large
# weights, keep the backward gain per layer far higher (the printed gains). The network is now a tangle of nearly
# binary switches whose gradient flows through a changing handful of units, which is no better for learning; what
# fixes the sigmoid stack is an activation with slope 1 (ReLU) plus an initialisation matched to it, or normalisation
# (chapter 08).

# %% [markdown]
# ## Exercise 4
#
# For LRN with $n=5$, which channels change when only channel 0 is large? Check the padding convention against
# `nn.LocalResponseNorm` with an even `size=4`.
#
# Channel $c$ is divided by the energy of channels $c - \lfloor n/2 \rfloor \dots c + \lfloor (n-1)/2 \rfloor$, so
# a large channel $j$ damps every channel whose window contains $j$: channels $j - \lfloor (n-1)/2 \rfloor \dots
# j + \lfloor n/2 \rfloor$. For odd $n=5$ that is $j-2 \dots j+2$; for even $n=4$, $j-1 \dots j+2$ — one more channel
# *after* $j$ than before. We measure which channels' output/input ratio moves away from that of a pixel where all
# 16 channels are 1:

# %%
# NBVAL_CHECK_OUTPUT
def changed_channels(size: int, big: int, lrn) -> list[int]:
    """Channels whose output/input ratio differs from the all-ones pixel's when channel `big` is 100 instead of 1."""
    base = np.ones((1, 16, 1, 1), dtype=np.float32)
    x = base.copy()
    x[0, big] = 100.0
    ratio, base_ratio = lrn(x, size) / x, lrn(base, size) / base
    return np.nonzero(np.abs(ratio - base_ratio).ravel() > 1e-6)[0].tolist()


def torch_lrn(x: np.ndarray, size: int) -> np.ndarray:
    return nn.LocalResponseNorm(size, alpha=5e-4, beta=0.75, k=2.0)(torch.from_numpy(x)).numpy()


def our_lrn(x: np.ndarray, size: int) -> np.ndarray:
    return scratch.local_response_norm(x, size, alpha=5e-4, beta=0.75, k=2.0)


for size, big in [(5, 0), (5, 7), (4, 0), (4, 7)]:
    ours, theirs = changed_channels(size, big, our_lrn), changed_channels(size, big, torch_lrn)
    predicted = [c for c in range(big - (size - 1) // 2, big + size // 2 + 1) if 0 <= c < 16]
    print(f"size {size}, channel {big:2d} large: scratch changes {ours}, nn.LocalResponseNorm {theirs}, "
          f"predicted {predicted}")
    assert ours == theirs == predicted
a = rng.standard_normal((2, 16, 5, 5)).astype(np.float32) * 10
print(f"size 4, random input: scratch vs nn.LocalResponseNorm, max abs error < 1e-5: "
      f"{np.abs(our_lrn(a, 4) - torch_lrn(a, 4)).max() < 1e-5}")

# %% [markdown]
# With $n = 5$ and channel 0 large, only channels 0, 1 and 2 change: the two neighbours below channel 0 do not
# exist (they count as zeros), so the effect is cut off at the edge. With even $n = 4$ PyTorch pads
# $\lfloor n/2 \rfloor = 2$ channels in front and $\lfloor (n-1)/2 \rfloor = 1$ behind, so each window reaches two
# channels back and one forward, and a large channel 7 damps channels 6 to 9. `scratch.local_response_norm`
# follows the same convention and agrees with PyTorch exactly; an even size is simply lopsided, which is one reason
# LRN is always used with odd $n$.

# %% [markdown]
# ## Exercise 5
#
# Show that `nn.AdaptiveAvgPool2d(1)` equals `x.mean(dim=(2, 3), keepdim=True)`.
#
# With one output cell, chapter 02's window formula gives the window $\lfloor 0 \cdot H/1 \rfloor = 0$ to
# $\lceil 1 \cdot H / 1 \rceil = H$ in each direction: the whole map, averaged — the definition of the mean over
# the spatial dimensions. We check values and gradients on maps of several sizes, square and not:

# %%
# NBVAL_CHECK_OUTPUT
gap = nn.AdaptiveAvgPool2d(1)
for shape in [(2, 3, 1, 1), (2, 3, 7, 7), (4, 8, 5, 9), (1, 16, 32, 13)]:
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    (grad_pool,) = torch.autograd.grad(gap(x).sum(), x)
    (grad_mean,) = torch.autograd.grad(x.mean(dim=(2, 3), keepdim=True).sum(), x)
    value_err = (gap(x) - x.mean(dim=(2, 3), keepdim=True)).abs().max().item()
    grad_err = (grad_pool - grad_mean).abs().max().item()
    print(f"input {shape}: output {tuple(gap(x).shape)}, values max abs error < 1e-12: {value_err < 1e-12}, "
          f"gradients (all 1/(H·W) = {1 / (shape[2] * shape[3]):.4f}) equal: {grad_err < 1e-12}")
    assert value_err < 1e-12 and grad_err < 1e-12

# %% [markdown]
# They agree in value and in gradient (every input pixel gets $1/(HW)$ of its output's gradient) for every size.
# The mean is what global average pooling *is*; `nn.AdaptiveAvgPool2d(1)` is the same operation written as a
# module, which is handy inside an `nn.Sequential` and is how torchvision writes it (chapter 06 uses both forms).
