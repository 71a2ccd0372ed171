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
# # Solutions · 09 Inception v2 / v3
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/09_inception_v3.ipynb)
#
# Worked solutions to the exercises of [chapter 09](../09_inception_v3.ipynb). Try each exercise before reading its
# solution. Every answer is computed by the code next to it and checked (an `assert`, `cfg.expect`, or a cell whose
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
import torch
import torch.nn.functional as F
from timm.optim import RMSpropTF
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, scratch, train
from cnncourse.models.googlenet import BasicConv2d

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Compute by hand the parameters of one `InceptionC` block with `channels_7x7=192` and check your count with
# `profile.count_params(models.inception_v3().Mixed_6e)`. How many would it have with full 7×7 convolutions?

# %%
# NBVAL_CHECK_OUTPUT
def basic(kh: int, kw: int, c_in: int, c_out: int) -> int:
    """Parameters of a `BasicConv2d`: a kh×kw convolution without bias, BatchNorm's γ and β per output channel."""
    return kh * kw * c_in * c_out + 2 * c_out


c_in, c7 = 768, 192  # Mixed_6e's input channels and its channels_7x7
factorised = {
    "branch1x1: 1×1": basic(1, 1, c_in, 192),
    "branch7x7: 1×1, 1×7, 7×1": basic(1, 1, c_in, c7) + basic(1, 7, c7, c7) + basic(7, 1, c7, 192),
    "branch7x7dbl: 1×1, (7×1, 1×7)×2": basic(1, 1, c_in, c7) + 2 * basic(7, 1, c7, c7) + basic(1, 7, c7, c7)
                                        + basic(1, 7, c7, 192),
    "branch_pool: pool, 1×1": basic(1, 1, c_in, 192),
}
with torch.device("meta"):
    mixed_6e = models.inception_v3().Mixed_6e
for name, params in factorised.items():
    print(f"{name:34s} {params:10,d}")
print(f"{'total by hand':34s} {sum(factorised.values()):10,d}; "
      f"count_params(Mixed_6e) = {profile.count_params(mixed_6e):,d}")
assert sum(factorised.values()) == profile.count_params(mixed_6e)

# %% [markdown]
# With full 7×7 convolutions, each 1×7 → 7×1 pair becomes one 7×7 convolution (the pair's receptive field):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    unfactorised = nn.ModuleList([
        BasicConv2d(c_in, 192, kernel_size=1),  # branch1x1
        BasicConv2d(c_in, c7, kernel_size=1), BasicConv2d(c7, 192, kernel_size=7, padding=3),  # branch7x7
        BasicConv2d(c_in, c7, kernel_size=1), BasicConv2d(c7, c7, kernel_size=7, padding=3),  # branch7x7dbl
        BasicConv2d(c7, 192, kernel_size=7, padding=3),
        BasicConv2d(c_in, 192, kernel_size=1),  # branch_pool
    ])
full_by_hand = (2 * basic(1, 1, c_in, 192) + 2 * basic(1, 1, c_in, c7) + basic(7, 7, c7, 192) + basic(7, 7, c7, c7)
                + basic(7, 7, c7, 192))
print(f"with 7×7 convolutions: by hand {full_by_hand:,d}, counted {profile.count_params(unfactorised):,d}; "
      f"{full_by_hand / sum(factorised.values()):.2f}x the factorised block")
assert full_by_hand == profile.count_params(unfactorised)

# %% [markdown]
# The factorised block has 2,141,952 parameters: 589,824 in its four 1×1 convolutions, 1,548,288 in its six 1×7 and
# 7×1 convolutions (each 7·192·192) and 3,840 in its BatchNorms. With full 7×7s, three 7×7 convolutions of
# 49·192·192 weights replace the six thin ones: 6.0 M parameters, 2.8× as many. The saving is 49 → 14 weights per
# channel pair in the spatial layers; the 1×1 layers, which are the same in both, dilute it.

# %% [markdown]
# ## Exercise 2
#
# Build a 5×5 kernel of rank 1 and show that a 5×1 followed by a 1×5 convolution reproduces it. Then train a 5×1 →
# 1×5 pair to imitate a random 5×5 kernel: how close does it get, compared with the SVD's best rank-1 approximation?

# %%
# NBVAL_CHECK_OUTPUT
column, row = torch.tensor([1.0, -2.0, 3.0, -1.0, 0.5]), torch.tensor([2.0, 1.0, 0.0, -1.0, -2.0])
kernel = torch.outer(column, row)  # 5×5 of rank 1
torch.manual_seed(0)
image = torch.randn(1, 1, 32, 32)
at_once = F.conv2d(image, kernel.view(1, 1, 5, 5), padding=2)
in_two_steps = F.conv2d(F.conv2d(image, column.view(1, 1, 5, 1), padding=(2, 0)), row.view(1, 1, 1, 5),
                        padding=(0, 2))
print(f"rank {int(torch.linalg.matrix_rank(kernel))}; 5×1 then 1×5 reproduces the 5×5 kernel, "
      f"max abs difference < 1e-5: {bool((at_once - in_two_steps).abs().max() < 1e-5)}")
print(f"multiplications per output pixel: {kernel.numel()} at once, {column.numel() + row.numel()} in two steps")
assert (at_once - in_two_steps).abs().max() < 1e-5

# %%
torch.manual_seed(1)
target = torch.randn(5, 5)
u, s, vh = torch.linalg.svd(target)
svd_error = float((target - s[0] * torch.outer(u[:, 0], vh[0])).norm() / target.norm())

col = nn.Parameter(torch.randn(5) * 0.1)
row_ = nn.Parameter(torch.randn(5) * 0.1)
optimizer = torch.optim.Adam([col, row_], lr=0.05)
for step in range(400):
    x = torch.randn(16, 1, 24, 24)  # fresh white-noise images every step
    wanted = F.conv2d(x, target.view(1, 1, 5, 5))  # unpadded: every output sees a full 5×5 window
    got = F.conv2d(F.conv2d(x, col.view(1, 1, 5, 1)), row_.view(1, 1, 1, 5))
    loss = F.mse_loss(got, wanted)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
learned = torch.outer(col, row_).detach()
trained_error = float((target - learned).norm() / target.norm())
print(f"relative error of the kernel: trained pair {trained_error:.4f}, SVD's best rank-1 {svd_error:.4f}")
assert svd_error - 1e-4 <= trained_error <= 1.02 * svd_error

# %% [markdown]
# A rank-1 kernel is reproduced exactly (up to rounding), with 10 instead of 25 multiplications per pixel. For a
# random kernel the trained pair ends at the SVD's error (the assert allows 2% above it) and never below it: on
# white-noise images the
# expected squared error of the output is exactly the squared Frobenius distance between the two kernels, so gradient
# descent is minimising the same quantity as the SVD, and the Eckart–Young theorem says no rank-1 kernel does better
# than the SVD's first term. The rest of the kernel (here 74% of its norm: a random 5×5 kernel is far from rank 1)
# is out of reach of any 5×1 → 1×5 pair; a network gets it back with more channels and a non-linearity between the
# steps.

# %% [markdown]
# ## Exercise 3
#
# Train the small network with ε = 0.3. What happens to the confidence histogram and to the accuracy?
#
# The chapter's set-up (same network, data, batches and SGD settings; 2 epochs in tiny mode, 30 in full mode),
# with ε = 0 for comparison:

# %%
train_set, test_set, _ = data.small_images(cfg, augment=True)
in_channels = train_set[0][0].shape[0]
batch_size = cfg.pick(tiny=32, full=128)
epochs, width = cfg.pick(tiny=2, full=30), cfg.pick(tiny=0.0625, full=0.5)
blocks = cfg.pick(tiny=(1, 1, 1), full=(3, 4, 2))
_, test_loader = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)


def train_small(name: str, make_optimizer, epsilon: float) -> tuple[nn.Module, train.History]:
    """The chapter's small Inception-v3, trained with ``make_optimizer(parameters)`` and label smoothing ε."""
    torch.manual_seed(0)
    net = models.inception_v3_small(10, in_channels, width=width, blocks=blocks)
    train_loader, _ = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
    history = train.fit(net, train_loader, epochs, val_loader=test_loader, optimizer=make_optimizer(net.parameters()),
                        schedule="cosine", loss_fn=lambda out, y: scratch.label_smoothing_loss(out, y, epsilon),
                        device=cfg.device, verbose=False, checkpoint=cfg.checkpoint(f"09_inception_v3-solution-{name}"))
    print(f"{name:12s} test accuracy per epoch {' '.join(f'{a:.1%}' for a in history['val_acc'])}")
    return net, history


def sgd(params):
    return torch.optim.SGD(params, lr=0.045, momentum=0.9)


smoothing = {epsilon: train_small(f"sgd-eps{epsilon}", sgd, epsilon) for epsilon in (0.0, 0.3)}

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
confidence = {}
for epsilon, (net, _) in smoothing.items():
    logits, labels = train.predict(net, test_loader, device=cfg.device)
    confidence[epsilon] = logits.softmax(dim=1).max(dim=1).values
    accuracy = (logits.argmax(1) == labels).float().mean()
    ax.hist(confidence[epsilon].numpy(), bins=40, range=(0, 1), alpha=0.6,
            label=f"ε = {epsilon}: mean {confidence[epsilon].mean():.2f}, accuracy {accuracy:.1%}")
    print(f"ε = {epsilon}: mean confidence {confidence[epsilon].mean():.3f}, largest {confidence[epsilon].max():.3f}, "
          f"share above 0.95: {(confidence[epsilon] > 0.95).float().mean():.1%}, test accuracy {accuracy:.1%}")
ax.axvline(1 - 0.3 + 0.3 / 10, color="black", linestyle="--", label="ε = 0.3's target 1 − ε + ε/K = 0.73")
ax.set_xlabel("largest softmax probability of a test prediction")
ax.set_ylabel("test images")
ax.set_yscale("log")
ax.set_title("Small Inception-v3: confidence without and with label smoothing ε = 0.3")
ax.legend(fontsize="small", loc="upper left")
plt.tight_layout()
plt.show()
cfg.expect(confidence[0.3].mean() < confidence[0.0].mean() and (confidence[0.3] > 0.95).float().mean() < 0.01,
           "with ε = 0.3 almost no prediction should be above 0.95")

# %% [markdown]
# With ε = 0.3 the loss is smallest when the true class gets 1 − 0.3 + 0.03 = 0.73 and every other class 0.03, so
# the confidences gather around and below that line instead of near 1: the histogram moves left as a whole, and
# predictions above 0.95 all but disappear (the largest confidence is printed above). The accuracy depends on the
# ranking of the logits, not on how sharp they are, so it stays in the same range — but smoothing this strong
# throws away the information of how sure the network is, which is why ε is usually kept near 0.1.

# %% [markdown]
# ## Exercise 4
#
# Replace `torch.optim.RMSprop` by `timm.optim.RMSpropTF` (TensorFlow's ε inside the square root) with the same
# settings. Does the run change?
#
# First the two update rules on one weight, one step each, for gradients from small to large (same learning rate
# 0.045, decay 0.9, ε = 1.0, momentum 0.9):

# %%
# NBVAL_CHECK_OUTPUT
def first_step(optimizer_class, gradient: float, steps: int = 1) -> float:
    """|change of a weight| / learning rate after ``steps`` steps with the same gradient."""
    w = nn.Parameter(torch.zeros(1))
    opt = optimizer_class([w], lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)
    for _ in range(steps):
        w.grad = torch.full((1,), gradient)
        opt.step()
    return float(w.abs()) / 0.045


print(f"{'gradient':>9s} | {'PyTorch step 1':>14s} {'TF step 1':>10s} | {'PyTorch step 50':>15s} {'TF step 50':>11s}")
for g in (0.01, 0.1, 1.0, 10.0):
    print(f"{g:9.2f} | {first_step(torch.optim.RMSprop, g):14.4f} {first_step(RMSpropTF, g):10.4f} | "
          f"{first_step(torch.optim.RMSprop, g, 50):15.3f} {first_step(RMSpropTF, g, 50):11.3f}")
assert first_step(RMSpropTF, 0.1) < first_step(torch.optim.RMSprop, 0.1)

# %% [markdown]
# The two differ. PyTorch's denominator $\sqrt{v} + 1$ starts from $v = 0$, TensorFlow's $\sqrt{v + 1}$ from $v = 1$
# (timm copies TensorFlow's initialisation of the average to ones, too). So TensorFlow's first steps are the smaller
# ones for small and medium gradients: the denominator is about $\sqrt{1.9} \approx 1.38$ instead of
# $1 + \sqrt{0.1}\,|g|$. Once the ones have decayed ($0.9^{50} < 1\%$), $v \approx g^2$ in both, and the
# denominators are $1 + |g|$ for PyTorch against $\sqrt{1 + g^2}$ for TensorFlow, which is smaller: now TensorFlow
# takes the larger steps, most of all for gradients around 1. The last two columns, the total movement after 50
# steps (with momentum), show both effects. Once $v \approx g^2$ (after the first steps), both divide by about $|g|$ for
# large gradients, so each step is about the learning rate; at step 1, $v$ is only $0.1 g^2$, so the first steps
# are longer than one learning rate (the step-1 columns for g = 10). Now the two full runs:

# %%
def rmsprop(params):
    return torch.optim.RMSprop(params, lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)


def rmsprop_tf(params):
    return RMSpropTF(params, lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)


optimizers = {name: train_small(name.lower(), make, 0.0)[1] for name, make in {"RMSprop": rmsprop,
                                                                                "RMSpropTF": rmsprop_tf}.items()}
fig = plot.plot_history(optimizers, title="Small Inception-v3: PyTorch's RMSprop vs TensorFlow's (timm RMSpropTF)")
plt.show()
for name, history in optimizers.items():
    print(f"{name:10s} final test accuracy {history.last['val_acc']:.1%}, "
          f"final training loss {history.last['train_loss']:.3f}")
cfg.expect(all(h.last["val_acc"] > 0.5 for h in optimizers.values()), "both RMSProp variants should learn")

# %% [markdown]
# Yes, the run changes — its weights take different steps from the first one on — but both variants learn, and
# their curves stay in the same range (the numbers above); one short run with one seed does not say which is better.
# What the exercise shows is that "RMSProp with ε = 1.0" is not one optimizer: where ε goes, and how the average
# starts, change every step, so a recipe ported from TensorFlow to PyTorch must port those details (timm's
# `RMSpropTF` exists for exactly that), or re-tune ε and the learning rate.

# %% [markdown]
# ## Exercise 5
#
# `ParallelReduction` uses max pooling. Swap in average pooling, then a second stride-2 convolution instead of the
# pooling. What happens to the parameters and multiply-adds?

# %%
# NBVAL_CHECK_OUTPUT
class ParallelReduction(nn.Module):
    """The chapter's grid reduction: a stride-2 convolution (k -> k) and a second stride-2 branch, concatenated."""

    def __init__(self, k: int, other: str = "max"):
        super().__init__()
        self.conv = nn.Conv2d(k, k, 3, stride=2, bias=False)
        self.other = {"max": nn.MaxPool2d(3, stride=2), "avg": nn.AvgPool2d(3, stride=2),
                      "conv": nn.Conv2d(k, k, 3, stride=2, bias=False)}[other]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.other(x)], 1)


d, k = 35, 320
shape = (1, k, d, d)
measured = {}
for other in ("max", "avg", "conv"):
    block = ParallelReduction(k, other)
    out = block(torch.zeros(shape))
    measured[other] = profile.count_params(block), profile.count_macs(block, shape)
    print(f"second branch {other:4s}: output {tuple(out.shape[1:])}, {measured[other][0]:9,d} parameters, "
          f"{measured[other][1] / 1e6:6.1f} M multiply-adds")
pool_ops = 17 * 17 * k * 9  # a 3×3 pooling touches 9 inputs per output value: additions or comparisons, no products
print(f"the pooling's own work: {pool_ops:,d} additions or comparisons ({pool_ops / measured['max'][1]:.1%} of the "
      f"convolution's multiply-adds), which the FLOP counter does not count")
assert measured["max"] == measured["avg"] and measured["conv"] == tuple(2 * v for v in measured["max"])

# %% [markdown]
# Average pooling changes nothing in the count: pooling has no parameters and no multiplications (its 0.3% of
# additions or comparisons are not multiply-adds), so only the values of the pooled half change — averages instead
# of maxima. A second stride-2 convolution doubles both the parameters and the multiply-adds: it is a second
# 3×3 convolution of k → k channels on the same input. It also gives up what made the pooling branch useful: a
# parameter-free path that keeps the input's own channels (principle 1: no bottleneck). That is the bargain of
# Inception-v3's reduction blocks — the pooling half is free, and the convolutional half does the learning.
