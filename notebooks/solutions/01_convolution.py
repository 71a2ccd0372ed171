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
# # Solutions · 01 Convolution from scratch
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/01_convolution.ipynb)
#
# Worked solutions to the exercises of [chapter 01](../01_convolution.ipynb). Try each exercise before reading its
# solution. Every answer is computed by the code next to it and checked (an `assert`, or a cell whose output nbval
# compares); the text after it explains the result.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import tracemalloc
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import cnncourse
from cnncourse import data, models, profile, scratch

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Exercise 1
#
# Extend `conv2d_loops` with a `dilation` argument (gaps of `d-1` pixels between kernel taps) and check it against
# `F.conv2d(..., dilation=d)`. What is the output size formula now?
#
# A dilated $F$-tap kernel spans $d(F-1)+1$ input pixels: its taps sit at offsets $0, d, 2d, \dots$. Everything
# else stays as it was, so the window is cut out with a step of $d$, and the output size is chapter 01's formula
# with $F$ replaced by that span.

# %%
def dilated_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """O = floor((H + 2P - d(F-1) - 1) / S) + 1: the usual formula with the kernel's span d(F-1)+1 in place of F."""
    return scratch.conv_output_size(size, dilation * (kernel - 1) + 1, stride, padding)


def conv2d_loops(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0,
                 dilation: int = 1) -> np.ndarray:
    """Direct convolution with dilation: each window takes every d-th pixel of a span of d(k-1)+1 (teaching code)."""
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    oh, ow = dilated_size(h, kh, stride, padding, dilation), dilated_size(w, kw, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, f, oh, ow), dtype=x.dtype)
    for b in range(n):
        for k in range(f):
            for i in range(oh):
                for j in range(ow):
                    top, left = i * stride, j * stride
                    window = xp[b, :, top : top + span_h : dilation, left : left + span_w : dilation]
                    out[b, k, i, j] = np.sum(window * weight[k]) + bias[k]
    return out


# %%
# NBVAL_CHECK_OUTPUT
x = rng.standard_normal((2, 3, 19, 16)).astype(np.float32)
w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)
print(f"{'d':>2s} {'S':>2s} {'P':>2s} {'span':>5s} {'output':>8s} {'formula':>8s}  max abs error < 1e-5")
for d, s, p in [(1, 1, 0), (2, 1, 0), (2, 1, 2), (3, 2, 1), (4, 1, 4), (5, 3, 0)]:
    ours = conv2d_loops(x, w, b, stride=s, padding=p, dilation=d)
    ref = F.conv2d(*map(torch.from_numpy, (x, w, b)), stride=s, padding=p, dilation=d).numpy()
    formula = (dilated_size(19, 3, s, p, d), dilated_size(16, 3, s, p, d))
    assert ours.shape == ref.shape and formula == ref.shape[2:]
    print(f"{d:2d} {s:2d} {p:2d} {d * 2 + 1:5d} {ref.shape[2]:3d}×{ref.shape[3]:<4d} {formula[0]:3d}×{formula[1]:<4d}  "
          f"{np.abs(ours - ref).max() < 1e-5}")

# %% [markdown]
# $$O = \left\lfloor \frac{H + 2P - d(F-1) - 1}{S} \right\rfloor + 1$$
#
# With $d = 1$ it is the old formula. Padding $P = d(F-1)/2$ keeps the size ("same"), as in the row $d=2, P=2$ and
# $d=4, P=4$. Dilation enlarges the receptive field without adding weights or computation per output pixel, which
# is why segmentation networks (DeepLab) use it instead of pooling away resolution.

# %% [markdown]
# ## Exercise 2
#
# How many bytes does `scratch.img2col` allocate for a 1×64×56×56 input and a 3×3 kernel with padding 1, compared
# with the input itself? Check your answer with `.nbytes`.
#
# With padding 1 the 3×3 window visits all 56×56 positions, and each row holds 64·3·3 = 576 values: the matrix has
# 3,136 × 576 entries, nine times the input's 64·56·56, at 4 bytes each in float32.

# %%
# NBVAL_CHECK_OUTPUT
x = np.zeros((1, 64, 56, 56), dtype=np.float32)
predicted = (56 * 56) * (64 * 3 * 3) * x.itemsize
cols = scratch.img2col(x, 3, 3, padding=1)
print(f"input:   {x.shape}, {x.nbytes:,d} bytes")
print(f"img2col: {cols.shape}, {cols.nbytes:,d} bytes = {cols.nbytes / x.nbytes:.0f} x the input; "
      f"predicted {predicted:,d}: {cols.nbytes == predicted}")
print(f"in float64 both double: {scratch.img2col(x.astype(np.float64), 3, 3, padding=1).nbytes:,d} bytes")

# %% [markdown]
# The result is not all it allocates on the way: `np.pad` first makes a padded copy of the input (64×58×58). Python's
# `tracemalloc` follows NumPy's allocations, so it can measure the peak:

# %%
del cols
tracemalloc.start()
cols = scratch.img2col(x, 3, 3, padding=1)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
padded = 64 * 58 * 58 * x.itemsize
print(f"peak while img2col runs: {peak / 1e6:.2f} MB; result {cols.nbytes / 1e6:.2f} MB + padded copy "
      f"{padded / 1e6:.2f} MB = {(cols.nbytes + padded) / 1e6:.2f} MB")
assert abs(peak - (cols.nbytes + padded)) < 0.01 * peak

# %% [markdown]
# img2col needs $F^2 = 9$ times the input's memory (7.2 MB for a 0.8 MB input), plus a padded copy while it runs.
# For one layer of one image that is harmless; for a batch of 256 it is 1.8 GB, which is why libraries prefer
# convolution algorithms that never build the whole matrix (implicit GEMM, Winograd, FFT) or build it in tiles.

# %% [markdown]
# ## Exercise 3
#
# Design a 3×3 kernel that detects diagonal edges, apply it to the photo, and compare with the two Sobels.
#
# Rotating Sobel x by 45° gives the "compass" kernel below: positive weights towards the upper right, negative
# towards the lower left, so it responds where the brightness increases along the diagonal. Its mirror image
# detects the other diagonal. First a test we can predict: on a linear brightness ramp whose gradient points at an
# angle θ (0° = to the right, 90° = up), every one of these kernels gives the same value at every pixel, its
# directional derivative.

# %%
# NBVAL_CHECK_OUTPUT
kernels = {
    "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),  # positive at the bottom: brightness increasing down
    "diagonal 45°": np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]]),
    "diagonal 135°": np.array([[2, 1, 0], [1, 0, -1], [0, -1, -2]]),
}
bank = np.stack(list(kernels.values())).astype(np.float32)[:, None]
rows, cols_ = np.mgrid[0:9, 0:9] - 4
angles = np.arange(0, 180, 22.5)
table = []
for angle in angles:
    t = np.deg2rad(angle)
    ramp = (cols_ * np.cos(t) - rows * np.sin(t)).astype(np.float32)[None, None]  # rows grow downwards
    table.append(scratch.conv2d(ramp, bank)[0, :, 3, 3])
table = np.array(table)
print("gradient angle " + " ".join(f"{name:>14s}" for name in kernels))
for angle, row in zip(angles, table):
    print(f"{angle:13.1f}° " + " ".join(f"{v:14.2f}" for v in row))
strongest = {name: float(angles[np.abs(table[:, k]).argmax()]) for k, name in enumerate(kernels)}
print("strongest response at:", strongest)
assert strongest == {"Sobel x": 0.0, "Sobel y": 90.0, "diagonal 45°": 45.0, "diagonal 135°": 135.0}
assert abs(table[angles == 135.0, 2]).max() < 1e-5  # the 45° kernel ignores the other diagonal

# %% [markdown]
# On the photo (chapter 01's grey, half-size version), all four maps side by side:

# %%
photo = data.sample_image("china.jpg").astype(np.float32) / 255.0
grey = (photo @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[::2, ::2][None, None]
maps = scratch.conv2d(grey, bank, padding=1)[0]
fig, axes = plt.subplots(1, 4, figsize=(17, 3.4))
for ax, name, m in zip(axes, kernels, maps):
    lim = np.percentile(np.abs(m), 99)
    ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(name)
    ax.set_xlabel("x (pixels)")
axes[0].set_ylabel("y (pixels)")
fig.suptitle("Edge filters on china.jpg (red: positive response, blue: negative)")
fig.tight_layout()
plt.show()


# %%
# NBVAL_CHECK_OUTPUT
def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


sobel_x, sobel_y, diag45, diag135 = maps
print(f"|diagonal 45°| vs |Sobel x|: correlation {correlation(abs(diag45), abs(sobel_x)):.2f}, "
      f"vs |Sobel y|: {correlation(abs(diag45), abs(sobel_y)):.2f}")
print(f"diagonal 45° vs (Sobel x - Sobel y): correlation {correlation(diag45, sobel_x - sobel_y):.3f}")
print(f"diagonal 135° vs -(Sobel x + Sobel y): correlation {correlation(diag135, -(sobel_x + sobel_y)):.3f}")
assert correlation(diag45, sobel_x - sobel_y) > 0.95

# %% [markdown]
# The diagonal kernel answers most strongly to 45° edges, which each Sobel sees at only $\cos 45° \approx 0.71$ of
# its strength, and not at all to the other diagonal. On the photo it picks out the sloping eaves of the roofs,
# and its map is only moderately correlated with either Sobel's. But it adds little that the two Sobels do not already
# contain: its map is almost exactly Sobel x − Sobel y (correlation above 0.95), because a derivative along the
# diagonal is a combination of the derivatives along x and y (the ramp table shows it: 6·cos θ + 6·sin θ). Two
# orthogonal edge filters "steer" to any direction, which is one reason a network's first layer needs only a few
# oriented filters.

# %% [markdown]
# ## Exercise 4
#
# Time `scratch.conv2d` and `F.conv2d` for batch sizes 1, 8 and 64. Which one scales better, and why?
#
# Both do the same arithmetic, which grows exactly in proportion to the batch (checked first); then the timings,
# for chapter 01's layer (3-channel 32×32 images, eight 3×3 filters, padding 1). Times depend on the machine and on
# what else runs on it, so they are printed, not compared by nbval.

# %%
# NBVAL_CHECK_OUTPUT
batches = (1, 8, 64)
layer = nn.Conv2d(3, 8, 3, padding=1)
for n in batches:
    print(f"batch {n:2d}: {profile.count_flops(layer, (n, 3, 32, 32)) / 1e6:6.2f} MFLOPs, img2col matrix "
          f"{scratch.img2col(np.zeros((n, 3, 32, 32), np.float32), 3, 3, padding=1).nbytes / 1e6:5.2f} MB")

# %%
wt = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
bt = np.zeros(8, dtype=np.float32)
times = {}
for n in batches:
    xt = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    xt_torch, wt_torch, bt_torch = map(torch.from_numpy, (xt, wt, bt))
    times[n] = {
        "scratch.conv2d": profile.time_call(lambda: scratch.conv2d(xt, wt, bt, padding=1), min_run_time=0.3),
        "img2col alone": profile.time_call(lambda: scratch.img2col(xt, 3, 3, padding=1), min_run_time=0.3),
        "F.conv2d": profile.time_call(lambda: F.conv2d(xt_torch, wt_torch, bt_torch, padding=1), min_run_time=0.3),
    }
print(f"torch threads: {torch.get_num_threads()}")
print(f"{'batch':>5s} {'scratch ms':>11s} {'per image':>10s} {'img2col share':>14s} {'F.conv2d ms':>12s} "
      f"{'per image':>10s} {'F.conv2d faster by':>19s}")
for n, t in times.items():
    print(f"{n:5d} {t['scratch.conv2d'] * 1e3:11.3f} {t['scratch.conv2d'] / n * 1e3:10.4f} "
          f"{t['img2col alone'] / t['scratch.conv2d']:14.0%} {t['F.conv2d'] * 1e3:12.3f} "
          f"{t['F.conv2d'] / n * 1e3:10.4f} "
          f"{t['scratch.conv2d'] / t['F.conv2d']:18.1f}x")
for name in ("scratch.conv2d", "F.conv2d"):
    print(f"{name}: time at batch 64 / time at batch 1 = {times[64][name] / times[1][name]:.0f} (64 x the work)")
assert all(t["F.conv2d"] < t["scratch.conv2d"] for t in times.values())

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for name in ("scratch.conv2d", "F.conv2d"):
    ax.loglog(batches, [times[n][name] * 1e3 for n in batches], "o-", label=name)
ax.loglog(batches, [times[1]["scratch.conv2d"] * 1e3 * n for n in batches], "k:", label="proportional to the batch")
ax.set_xlabel("batch size (images)")
ax.set_ylabel("time per call (ms, log scale)")
ax.set_title("Convolution time against batch size (3×32×32 images, 8 filters)")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()

# %% [markdown]
# On one thread neither changes character with the batch: both times grow with it, roughly like the work (the
# printed 64-to-1 ratios; timings on a shared CPU are noisy, so read them as orders of magnitude), and `F.conv2d` is
# faster by a large factor at every size. For a single image `scratch.conv2d` spends most of its time in img2col
# (the printed share), copying a matrix nine times the input's size; for larger batches its matrix product takes
# over — memory traffic and arithmetic both grow with the batch. PyTorch's kernels avoid that copy and
# use vectorised loops tuned for the CPU; given several threads (this course measures with one) they also split a
# large batch over the cores, so in practice `F.conv2d` is the one that scales better.

# %% [markdown]
# ## Exercise 5
#
# Use `profile.receptive_field` (which `measured_receptive_field` calls for 3×3 stacks) to find the receptive
# field of LeNet-5's C1 → S2 → C3 → S4 → C5 (5×5 convolutions, 2×2 pooling with stride 2). Does C5 see the whole
# 32×32 input?
#
# `measured_receptive_field` only builds 3×3 convolutions, so we pass LeNet-5's own layers to
# `profile.receptive_field` directly. The input must be larger than the receptive field for the measurement to see
# its edges, so we use 64×64 (LeNet-5 itself insists on 32×32, but its layers do not). The formula
# $r \mathrel{+}= (F-1)\cdot\text{jump}$, $\text{jump} \mathrel{*}= S$ gives the expected value layer by layer.

# %%
# NBVAL_CHECK_OUTPUT
lenet = models.lenet5()
layers = [("C1", lenet.c1), ("S2", lenet.s2), ("C3", lenet.c3), ("S4", lenet.s4), ("C5", lenet.c5)]
r, jump = 1, 1
for i, (name, layer) in enumerate(layers):
    pool = isinstance(layer, nn.AvgPool2d)
    k, s = (layer.kernel_size, layer.stride) if pool else (layer.kernel_size[0], layer.stride[0])
    r, jump = r + (k - 1) * jump, jump * s
    measured = profile.receptive_field(nn.Sequential(*(l for _, l in layers[: i + 1])), (1, 1, 64, 64))
    print(f"after {name}: receptive field measured {measured[0]}×{measured[1]}, formula {r}×{r}")
    assert measured == (r, r)

# %% [markdown]
# The receptive field grows 5 → 6 → 14 → 16 → 32: C5's is exactly 32×32, so every C5 unit sees the whole input
# image — which is why C5, although written as a convolution, is fully connected on 32×32 inputs. Seeing a pixel is
# not weighing it equally, though: the centre pixels reach C5 through many more paths than the corners. Counting
# the paths (all weights 1, so the gradient of C5's output counts them) shows it:

# %%
probe = nn.Sequential(*(nn.Conv2d(l.in_channels, l.out_channels, 5, bias=False) if isinstance(l, nn.Conv2d)
                        else nn.AvgPool2d(2) for _, l in layers))  # LeNet's layers with every weight 1, no bias
for m in probe.modules():
    if isinstance(m, nn.Conv2d):
        nn.init.ones_(m.weight)
image = torch.ones(1, 1, 32, 32, requires_grad=True)
probe(image)[0, 0, 0, 0].backward()
paths = image.grad[0, 0]
fig, ax = plt.subplots(figsize=(4.2, 3.6))
shown = ax.imshow(paths / paths.max(), cmap="viridis")
fig.colorbar(shown, ax=ax, label="influence on one C5 unit (max = 1)")
ax.set_title("How strongly each input pixel reaches C5")
ax.set_xlabel("x (pixels)")
ax.set_ylabel("y (pixels)")
plt.show()
print(f"every pixel reaches C5: {bool((paths > 0).all())}; corner / centre influence: "
      f"{(paths[0, 0] / paths[15:17, 15:17].mean()).item():.4f}")
assert (paths > 0).all()
