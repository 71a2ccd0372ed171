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
# # 01 · Convolution from scratch
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/01_convolution.ipynb)
#
# Every network in this course is built mostly from one operation: the 2-D convolution. This chapter writes it
# by hand in NumPy. First we see why images need it (a fully-connected layer would need millions of weights),
# then we build it twice — as plain loops, and as **img2col** + one matrix multiply, the trick real libraries use
# — check both against PyTorch, time them, apply hand-made filters to a photo, and watch how far a stack of
# small convolutions can "see".

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import inspect
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

import cnncourse
from cnncourse import data, profile, scratch

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Why not a fully-connected layer?
#
# A fully-connected (linear) layer connects every input pixel to every output unit. It ignores that an image is a
# 2-D grid: neighbouring pixels are related, and a pattern (an edge, a loop of a digit) means the same thing
# wherever it appears. Count what that costs. We want the first layer of a digit recogniser to turn a 32×32
# grey image into 6 feature maps of 28×28 (the sizes of LeNet-5's first layer, chapter 03):

# %%
# NBVAL_CHECK_OUTPUT
fc = nn.Linear(32 * 32, 6 * 28 * 28)  # every output unit sees every pixel, with its own weights
conv = nn.Conv2d(1, 6, kernel_size=5)  # every output unit sees a 5×5 patch, with weights shared across positions
print(f"output units: fully-connected {fc.out_features:,}, convolution {6 * 28 * 28:,} (6 maps of 28×28)")
print(f"parameters:   fully-connected {profile.count_params(fc):,}, convolution {profile.count_params(conv):,}")
print(f"ratio: {profile.count_params(fc) / profile.count_params(conv):,.0f}x")
imagenet_fc = nn.Linear(224 * 224 * 3, 1000, device="meta")  # a colour ImageNet image into just 1,000 units
print(f"one 1,000-unit layer on a 224×224×3 image: {profile.count_params(imagenet_fc):,} parameters")

# %% [markdown]
# The convolution gets away with 156 parameters (6 filters × 5×5 weights + 6 biases) because of two ideas:
#
# - **local receptive fields** — each output unit looks only at a small patch (here 5×5) of the input;
# - **shared weights** — the same filter slides over every position, so the 25 weights of a filter are reused at
#   all 28×28 positions. A filter that detects a vertical edge detects it anywhere.
#
# Shared weights have a measurable consequence: shift the input and the output shifts by the same amount
# (*translation equivariance*). Pooling (chapter 02) then turns this into tolerance to small shifts.

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
shifted = torch.roll(x, shifts=(3, 2), dims=(2, 3))  # move the image 3 pixels down, 2 right
with torch.no_grad():
    y, y_shifted = conv(x), conv(shifted)
# compare away from the borders, where the roll wraps pixels around
inner = (slice(None), slice(None), slice(8, 20), slice(8, 20))
err = (torch.roll(y, shifts=(3, 2), dims=(2, 3)) - y_shifted)[inner].abs().max().item()
print(f"conv(shifted image) == shifted conv(image), max abs error < 1e-6: {err < 1e-6}")

# %% [markdown]
# ## Output size: kernel, stride and padding
#
# Three numbers decide the output size. The **kernel** (filter) size $F$; the **stride** $S$, how many pixels the
# filter moves between positions; and the **padding** $P$, how many rows/columns of zeros are added around the
# input. Along one axis of length $H$ there are
#
# $$O = \left\lfloor \frac{H + 2P - F}{S} \right\rfloor + 1$$
#
# positions: the padded length is $H+2P$, the first window covers $F$ of it, and each further step uses $S$ more.
# When $(H+2P-F)$ is not divisible by $S$ the last few pixels are never covered (the floor). `scratch.conv_output_size`
# is this formula; we check it against the shape PyTorch produces for some well-known layers:

# %%
# NBVAL_CHECK_OUTPUT
layers = [  # (where it is from, H, F, S, P)
    ("LeNet-5 C1", 32, 5, 1, 0),
    ("AlexNet conv1", 227, 11, 4, 0),
    ("VGG 3×3 'same'", 224, 3, 1, 1),
    ("ResNet stem", 224, 7, 2, 3),
    ("stride 2, 3×3, P=1", 7, 3, 2, 1),
    ("stride 3 skips pixels", 10, 3, 3, 0),
]
print(f"{'layer':24s} {'H':>4s} {'F':>3s} {'S':>3s} {'P':>3s} {'formula':>8s} {'PyTorch':>8s}")
for name, h, f, s, p in layers:
    ours = scratch.conv_output_size(h, f, s, p)
    theirs = F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, f, f), stride=s, padding=p).shape[-1]
    print(f"{name:24s} {h:4d} {f:3d} {s:3d} {p:3d} {ours:8d} {theirs:8d}")
    assert ours == theirs

# %% [markdown]
# Padding $P = (F-1)/2$ with stride 1 keeps the size unchanged ("same" convolution) — this is how VGG and ResNet
# stack dozens of layers without the image shrinking to nothing.
#
# ## Convolution as loops
#
# The definition, written directly: for every image $n$, filter $f$ and output position $(i, j)$, multiply the
# filter with the input window under it and add everything up, plus the filter's bias. (Deep-learning libraries
# do not flip the kernel, so mathematically this is cross-correlation; everyone still calls it convolution.)
# This is teaching code, only used here to check and time the fast version.

# %%
def conv2d_loops(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0):
    """Direct convolution: one window at a time (slow; for teaching only)."""
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    oh, ow = scratch.conv_output_size(h, kh, stride, padding), scratch.conv_output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, f, oh, ow), dtype=x.dtype)
    for b in range(n):
        for k in range(f):
            for i in range(oh):
                for j in range(ow):
                    window = xp[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[b, k, i, j] = np.sum(window * weight[k]) + bias[k]
    return out


# %% [markdown]
# Four nested Python loops over output pixels are slow: a 32×32 output with 8 filters means 8,192 trips
# through the innermost line, each doing a tiny multiply-and-sum. The fix is to arrange the data so that *one*
# large matrix multiply does all of them at once.
#
# ## img2col, step by step
#
# **img2col** (also *im2col*) copies every window the filter visits into one row of a matrix. A 3×3 filter over
# 2 channels touches 2·3·3 = 18 numbers per position, so each row has 18 entries, in the order (channel, kernel
# row, kernel column) — the same order in which `weight.reshape(filters, -1)` lays out a filter. A 4×4 input with
# a 3×3 kernel and stride 1 has 2×2 = 4 positions, so 4 rows. We build it with a loop over positions (teaching
# code) and compare with the package's vectorised `scratch.img2col`:

# %%
# NBVAL_CHECK_OUTPUT
small = np.arange(2 * 4 * 4, dtype=np.float64).reshape(1, 2, 4, 4)  # one image, 2 channels, 4×4, values 0..31
kh = kw = 3
rows = []
for i in range(scratch.conv_output_size(4, kh)):
    for j in range(scratch.conv_output_size(4, kw)):
        rows.append(small[0, :, i : i + kh, j : j + kw].reshape(-1))  # channel 0's window, then channel 1's
cols_by_hand = np.stack(rows)
cols = scratch.img2col(small, kh, kw)
print("img2col matrix shape:", cols.shape, "(positions, channels·kh·kw)")
print("loop version equals scratch.img2col:", np.array_equal(cols_by_hand, cols))
print(cols.astype(int))

# %% [markdown]
# The picture: the input's two channels with the window of output position 1 (row 0, column 1) outlined, and
# the unrolled matrix, where that window is row 1. Each input value appears in several rows — img2col trades
# memory (up to $F^2$ copies of the input) for speed.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1, 1, 4.2]})
for ch in range(2):
    ax = axes[ch]
    ax.imshow(small[0, ch], cmap="Blues", vmin=-8, vmax=40)
    for (r, c), v in np.ndenumerate(small[0, ch]):
        ax.text(c, r, int(v), ha="center", va="center", fontsize=9)
    ax.add_patch(Rectangle((0.5, -0.5), 3, 3, fill=False, edgecolor="red", lw=2.5))
    ax.set_title(f"input channel {ch} (4×4)")
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
ax = axes[2]
ax.imshow(cols, cmap="Blues", vmin=-8, vmax=40, aspect="auto")
for (r, c), v in np.ndenumerate(cols):
    ax.text(c, r, int(v), ha="center", va="center", fontsize=8)
ax.add_patch(Rectangle((-0.5, 0.5), 18, 1, fill=False, edgecolor="red", lw=2.5))
ax.axvline(8.5, color="k", lw=1.5)
ax.set_xticks(range(18), [f"c{c}\n{i},{j}" for c in range(2) for i in range(3) for j in range(3)], fontsize=7)
ax.set_yticks(range(4), [f"({i},{j})" for i in range(2) for j in range(2)])
ax.set_xlabel("column = (channel, kernel row, kernel column)")
ax.set_ylabel("row = output position")
ax.set_title("img2col matrix: one row per window (4 × 18)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Convolution = img2col + one matrix multiply
#
# With the windows as rows and the $F$ filters flattened to an $F \times (C\cdot k_h \cdot k_w)$ matrix,
# every output value is one dot product of a row with a filter: `cols @ W.T` computes all of them. Add the bias
# and reshape the (positions × filters) result back to N×F×OH×OW. That is the whole of `scratch.conv2d`:

# %%
print(inspect.getsource(scratch.conv2d))

# %% [markdown]
# Now the check that matters: on a random batch, with stride 2 and padding 1, the loop version, the img2col
# version and PyTorch's `F.conv2d` must agree. In float32 the sums are added in different orders, so we expect
# differences of a few units in the last place, not zero:

# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
xb = rng.standard_normal((2, 3, 17, 15)).astype(np.float32)
wb = rng.standard_normal((8, 3, 3, 5)).astype(np.float32)  # non-square 3×5 kernels
bb = rng.standard_normal(8).astype(np.float32)
ours = scratch.conv2d(xb, wb, bb, stride=2, padding=1)
loops = conv2d_loops(xb, wb, bb, stride=2, padding=1)
ref = F.conv2d(torch.from_numpy(xb), torch.from_numpy(wb), torch.from_numpy(bb), stride=2, padding=1).numpy()
print("output shape, scratch vs PyTorch:", ours.shape, tuple(ref.shape))
print(f"img2col vs F.conv2d, max abs error < 1e-5: {np.abs(ours - ref).max() < 1e-5}")
print(f"loops   vs F.conv2d, max abs error < 1e-5: {np.abs(loops - ref).max() < 1e-5}")
x64, w64, b64 = xb.astype(np.float64), wb.astype(np.float64), bb.astype(np.float64)
err64 = np.abs(scratch.conv2d(x64, w64, b64, 2, 1) - F.conv2d(*map(torch.from_numpy, (x64, w64, b64)), 2, 1).numpy())
print(f"float64: max abs error < 1e-12: {err64.max() < 1e-12}")

# %% [markdown]
# `tests/test_scratch.py` repeats this comparison for 36 random shapes (square and non-square kernels, strides
# 1–3, paddings 0–2) in float32 and float64, and checks that impossible shapes raise a `ValueError` that names
# the wrong dimension:

# %%
# NBVAL_CHECK_OUTPUT
for bad in [
    lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((4, 2, 3, 3))),
    lambda: scratch.conv2d(np.zeros((1, 3, 4, 8)), np.zeros((4, 3, 5, 3))),
    lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((4, 3, 3, 3)), stride=0),
]:
    try:
        bad()
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# ## How much faster?
#
# The same input (one 3-channel 32×32 image, eight 3×3 filters, padding 1) through the three implementations.
# Times depend on the machine, so this cell is a measurement, not a check; the ratios are what to look at.

# %%
xt = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
wt = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
bt = np.zeros(8, dtype=np.float32)
xt_torch, wt_torch, bt_torch = map(torch.from_numpy, (xt, wt, bt))


timings = {  # profile.time_call: the median of repeated calls, timed by torch.utils.benchmark.Timer
    "Python loops": profile.time_call(lambda: conv2d_loops(xt, wt, bt, padding=1)),
    "img2col + matmul (NumPy)": profile.time_call(lambda: scratch.conv2d(xt, wt, bt, padding=1)),
    "F.conv2d (PyTorch)": profile.time_call(lambda: F.conv2d(xt_torch, wt_torch, bt_torch, padding=1)),
}
slowest = timings["Python loops"]
print(f"{'implementation':26s} {'time':>10s} {'speed-up vs loops':>18s}")
for name, seconds in timings.items():
    print(f"{name:26s} {seconds * 1e3:8.3f} ms {slowest / seconds:17.0f}x")

# %% [markdown]
# img2col turns thousands of tiny Python-level operations into one call into an optimised matrix-multiply
# library, which is where almost all the speed-up comes from. PyTorch adds hand-tuned kernels (and, on a GPU,
# thousands of cores) on top; many of its convolution algorithms are still img2col-style under the hood.
#
# ## Hand-made filters on a real photo
#
# Before networks *learned* their filters, image processing designed them by hand. A few classics, applied with
# our `scratch.conv2d` to a photo that scikit-learn ships (converted to grey and halved in size):
#
# - **Sobel x / Sobel y** respond to horizontal / vertical changes of brightness: vertical and horizontal edges;
# - a **5×5 box blur** averages its neighbourhood;
# - the **Laplacian** responds where brightness curves, at edges and fine detail, and ignores flat regions.
#
# All four filters run as *one* convolution with 4 output channels — exactly what a layer of a CNN does.

# %%
photo = data.sample_image("china.jpg").astype(np.float32) / 255.0  # H×W×3 in [0, 1]
grey = photo @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # luminance
grey = grey[::2, ::2][None, None]  # 1×1×214×320, every second pixel
kernels = {
    "Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "box blur 5×5": np.ones((5, 5)) / 25,
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
}
bank = np.zeros((len(kernels), 1, 5, 5), dtype=np.float32)  # pad the 3×3 kernels to 5×5 to stack them
for k, kern in enumerate(kernels.values()):
    off = (5 - kern.shape[0]) // 2
    bank[k, 0, off : off + kern.shape[0], off : off + kern.shape[1]] = kern
filtered = scratch.conv2d(grey, bank, padding=2)  # padding 2 keeps the 214×320 size

# %%
# NBVAL_CHECK_OUTPUT
ref = F.conv2d(torch.from_numpy(grey), torch.from_numpy(bank), padding=2).numpy()
print("photo:", grey.shape, "-> filtered:", filtered.shape)
print(f"scratch.conv2d vs F.conv2d on the photo, max abs error < 1e-5: {np.abs(filtered - ref).max() < 1e-5}")

# %%
fig, axes = plt.subplots(1, 5, figsize=(17, 3.2))
axes[0].imshow(grey[0, 0], cmap="gray")
axes[0].set_title("input (grey, 214×320 px)")
for ax, (name, out) in zip(axes[1:], zip(kernels, filtered[0])):
    if "blur" in name:
        ax.imshow(out, cmap="gray")
    else:
        lim = np.percentile(np.abs(out), 99)
        ax.imshow(out, cmap="RdBu_r", vmin=-lim, vmax=lim)  # red: positive response, blue: negative
    ax.set_title(name)
for ax in axes:
    ax.set_xlabel("x (pixels)")
axes[0].set_ylabel("y (pixels)")
fig.suptitle("Hand-made 2-D filters applied with scratch.conv2d (red > 0 > blue)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The Sobel-x map lights up along the temple's vertical columns, Sobel-y along its horizontal roof lines; the
# blur loses the fine detail that the Laplacian keeps. A CNN's first layer learns filters much like these
# (chapter 03 shows LeNet's, chapter 04 AlexNet's) — nobody has to design them.
#
# ## Receptive field: how far can a stack of 3×3 convolutions see?
#
# One 3×3 convolution sees a 3×3 patch. A second one on top sees 3×3 patches of the first's outputs, which
# together cover 5×5 input pixels; with stride 1, each layer adds $F-1 = 2$ pixels: $r_L = 1 + 2L$.
# Downsampling speeds this up: after a stride-2 layer, every further step of the kernel is 2 input pixels, so
# the growth per layer doubles. In general $r_L = r_{L-1} + (F_L - 1)\,\prod_{l<L} S_l$.
#
# We **measure** the receptive field instead of trusting the formula: back-propagate from the centre output
# pixel of the stack and count how many input pixels receive a non-zero gradient. `profile.receptive_field` does
# this (on a copy of the network with positive weights and an all-ones input, so no gradient cancels by accident);
# the formula above is written out by hand next to it:

# %%
def measured_receptive_field(strides: list[int], size: int = 97) -> int:
    """Width (pixels) of the input region that influences the centre output pixel of a stack of 3×3 convs."""
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, stride=s, padding=1) for s in strides])
    return profile.receptive_field(stack, (1, 1, size, size))[1]


def formula_receptive_field(strides: list[int], kernel: int = 3) -> int:
    """r_L = r_(L-1) + (F - 1) * (product of the earlier strides), starting from one pixel."""
    r, jump = 1, 1
    for s in strides:
        r, jump = r + (kernel - 1) * jump, jump * s
    return r


# %%
# NBVAL_CHECK_OUTPUT
depths = range(1, 9)
stride1 = {d: measured_receptive_field([1] * d) for d in depths}
stride2 = {d: measured_receptive_field([2 if i % 2 == 1 else 1 for i in range(d)]) for d in depths}  # every 2nd
print(f"{'layers':>6s} {'stride 1':>9s} {'stride 2 every 2nd layer':>25s}")
for d in depths:
    print(f"{d:6d} {stride1[d]:7d}px {stride2[d]:23d}px")
print("measured == formula for all:", all(
    stride1[d] == formula_receptive_field([1] * d)
    and stride2[d] == formula_receptive_field([2 if i % 2 == 1 else 1 for i in range(d)])
    for d in depths
))

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(list(depths), list(stride1.values()), "o-", label="all stride 1: grows by 2 per layer")
ax.plot(list(depths), list(stride2.values()), "s-", label="stride 2 in every 2nd layer: grows geometrically")
ax.set_xlabel("number of stacked 3×3 convolutions")
ax.set_ylabel("receptive field (input pixels, one side)")
ax.set_title("Receptive field of the centre output pixel, measured by gradients")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# Two stacked 3×3 layers see 5×5 and three see 7×7, with fewer weights than one 5×5 or 7×7 filter
# ($2\cdot 9 = 18 < 25$, $3 \cdot 9 = 27 < 49$ per channel pair) and a non-linearity between each — the argument
# VGG (chapter 05) is built on. Downsampling is what lets a deep network's last layers see the whole image.

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/01_convolution.ipynb](solutions/01_convolution.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/01_convolution.ipynb)
#
# 1. Extend `conv2d_loops` with a `dilation` argument (gaps of `d-1` pixels between kernel taps) and check it
#    against `F.conv2d(..., dilation=d)`. What is the output size formula now?
# 2. How many bytes does `scratch.img2col` allocate for a 1×64×56×56 input and a 3×3 kernel with padding 1,
#    compared with the input itself? Check your answer with `.nbytes`.
# 3. Design a 3×3 kernel that detects diagonal edges, apply it to the photo, and compare with the two Sobels.
# 4. Time `scratch.conv2d` and `F.conv2d` for batch sizes 1, 8 and 64. Which one scales better, and why?
# 5. Use `profile.receptive_field` (which `measured_receptive_field` calls for 3×3 stacks) to find the receptive
#    field of LeNet-5's C1 → S2 → C3 → S4 → C5 (5×5 convolutions, 2×2 pooling with stride 2). Does C5 see the whole
#    32×32 input?
