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
# # 09 · Inception v2 / v3: factorised convolutions, cheap grid reduction, label smoothing
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/09_inception_v3.ipynb)
#
# GoogLeNet (chapter 07) was efficient but hard to change: its design was a set of hand-tuned choices, and making
# it bigger by scaling every module up would multiply its cost. In *Rethinking the Inception Architecture for
# Computer Vision* (2015) Szegedy, Vanhoucke, Ioffe, Shlens and Wojna wrote down design principles instead, and
# derived from them a few ways of spending computation better: factorising large convolutions into small or
# asymmetric ones, reducing the grid size without a bottleneck, and two training changes (RMSProp and label
# smoothing). Their Inception-v3 is the result. This chapter measures each idea, builds the network from its five
# kinds of blocks, checks it against torchvision's, and trains a small one.

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
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, results, scratch, train
from cnncourse.models.inception import InceptionB, InceptionC

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Four design principles
#
# The paper states them as rules of thumb drawn from its experiments, not theorems:
#
# | # | principle | where it shows in Inception-v3 |
# |---|---|---|
# | 1 | Avoid representational bottlenecks, especially early: the size of the representation should shrink gently from input to output, never through a sudden narrow layer. | grid-size reduction by parallel stride-2 branches (below) |
# | 2 | Higher-dimensional representations are easier to process locally: more channels per position make features easier to disentangle. | the widened 8×8 modules (`InceptionE`), whose 1×3 and 3×1 branches run side by side |
# | 3 | Spatial aggregation can be done over lower-dimensional embeddings without much loss: reduce the channels with 1×1 convolutions before a 3×3 or larger one, because neighbouring outputs are strongly correlated. | the 1×1 reductions in every branch (as in GoogLeNet) |
# | 4 | Balance the width and the depth of the network: increase both together when there is more computation to spend. | three grids (35, 17, 8), each with several modules of growing width |

# %% [markdown]
# ## Factorising into smaller convolutions
#
# A 5×5 convolution from C to C channels has 25·C² weights. Two 3×3 convolutions in a row see the same 5×5 window
# of the input (the second one's 3×3 window covers 3×3 outputs of the first, each of which saw 3×3 inputs) with
# 2·9·C² = 18·C² weights: 28% fewer, and a non-linearity in between. This is VGG's argument (chapter 05). Going
# further, any n×n convolution can be replaced by an n×1 followed by a 1×n one: for n = 3 that is 6 weights per
# channel pair instead of 9 (33% fewer), for n = 7 it is 14 instead of 49. We measure parameters and receptive
# fields (with `profile.receptive_field`, which back-propagates from one output pixel) for C = 64:

# %%
# NBVAL_CHECK_OUTPUT
def conv(c: int, kernel: tuple[int, int]) -> nn.Conv2d:
    return nn.Conv2d(c, c, kernel, padding=(kernel[0] // 2, kernel[1] // 2), bias=False)


C = 64
pairs = {
    "5×5 vs 3×3 → 3×3": (conv(C, (5, 5)), nn.Sequential(conv(C, (3, 3)), nn.ReLU(), conv(C, (3, 3)))),
    "3×3 vs 3×1 → 1×3": (conv(C, (3, 3)), nn.Sequential(conv(C, (3, 1)), nn.ReLU(), conv(C, (1, 3)))),
    "7×7 vs 7×1 → 1×7": (conv(C, (7, 7)), nn.Sequential(conv(C, (7, 1)), nn.ReLU(), conv(C, (1, 7)))),
}
for name, (big, factorised) in pairs.items():
    p_big, p_fact = profile.count_params(big), profile.count_params(factorised)
    rf_big = profile.receptive_field(big, (1, C, 21, 21))
    rf_fact = profile.receptive_field(factorised, (1, C, 21, 21))
    print(f"{name:18s} weights {p_big:7,d} vs {p_fact:7,d} ({p_fact / p_big - 1:+.0%})  "
          f"receptive field {rf_big} vs {rf_fact}")

# %% [markdown]
# Same receptive field, a third (3×3) to more than two thirds (7×7) fewer weights and multiply-adds. The paper uses
# the asymmetric factorisation on the 17×17 grid, with n = 7 (`InceptionC`), and reports that it does not work
# well in early layers, where the grids are large.
#
# **When is the factorisation exact?** A 3×1 convolution followed by a 1×3 one (without anything in between)
# computes one 3×3 convolution whose kernel is the outer product of the two small kernels, a matrix of rank 1.
# The seed's example is the kernel $[3, 4, 5]^T \times [1, 2, 3]$. Any kernel of rank 1 can therefore be applied
# in two cheap steps with exactly the same result — up to floating-point rounding:

# %%
# NBVAL_CHECK_OUTPUT
column, row = torch.tensor([3.0, 4.0, 5.0]), torch.tensor([1.0, 2.0, 3.0])
kernel = torch.outer(column, row)  # 3×3, rank 1
print(kernel)
torch.manual_seed(0)
image = torch.randn(1, 1, 32, 32)
at_once = F.conv2d(image, kernel.view(1, 1, 3, 3), padding=1)
in_two_steps = F.conv2d(F.conv2d(image, column.view(1, 1, 3, 1), padding=(1, 0)), row.view(1, 1, 1, 3), padding=(0, 1))
print(f"rank {int(torch.linalg.matrix_rank(kernel))}; 3×1 then 1×3 equals the 3×3 kernel, "
      f"max abs difference < 1e-5: {bool((at_once - in_two_steps).abs().max() < 1e-5)}")
print(f"multiplications per output pixel: {kernel.numel()} at once, {column.numel() + row.numel()} in two steps")

# %% [markdown]
# A kernel learned freely has rank up to 3, and two steps can only reproduce its best rank-1 approximation (the
# largest term of its singular value decomposition). For a random kernel:

# %%
torch.manual_seed(1)
free = torch.randn(3, 3)
u, s, vh = torch.linalg.svd(free)
rank1 = s[0] * torch.outer(u[:, 0], vh[0])
print(f"singular values {[round(v, 3) for v in s.tolist()]}; "
      f"best rank-1 approximation leaves {float((free - rank1).norm() / free.norm()):.0%} of the kernel's norm")

# %% [markdown]
# In a network the restriction matters much less than this suggests: each factorised layer has many input and
# output channels, a BatchNorm and a ReLU between the two steps, and the weights are learned for the factorised
# form rather than approximated from a full kernel. The network learns a different but cheaper family of
# functions, and the paper found that it works as well on the medium grids.

# %% [markdown]
# ## Depthwise separable convolutions
#
# The seed also describes a different "separable" convolution, which later networks (Xception, MobileNet,
# EfficientNet in chapter 14) use instead of Inception's modules: a **depthwise** convolution (one k×k filter per
# input channel, `groups=C_in`, no mixing between channels) followed by a **pointwise** 1×1 convolution that mixes
# the channels. Inception-v3 itself does not use it. The seed's example: a 12×12×3 image to 8×8×256 with 5×5
# filters; and a typical layer of a real network, 56×56×128 to 128 channels with 3×3 filters:

# %%
# NBVAL_CHECK_OUTPUT
def separable(c_in: int, c_out: int, k: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_in, k, padding=padding, groups=c_in, bias=False),  # depthwise
                         nn.Conv2d(c_in, c_out, 1, bias=False))  # pointwise


for (c_in, c_out, k, size, padding) in [(3, 256, 5, 12, 0), (128, 128, 3, 56, 1)]:
    standard = nn.Conv2d(c_in, c_out, k, padding=padding, bias=False)
    sep = separable(c_in, c_out, k, padding)
    shape = (1, c_in, size, size)
    p_std, p_sep = profile.count_params(standard), profile.count_params(sep)
    m_std, m_sep = profile.count_macs(standard, shape), profile.count_macs(sep, shape)
    print(f"{size}×{size}×{c_in} -> {c_out}, {k}×{k}: standard {p_std:7,d} weights {m_std:12,d} mult-adds | "
          f"separable {p_sep:6,d} weights {m_sep:10,d} mult-adds | {m_std / m_sep:4.1f}x cheaper, "
          f"formula 1 / (1/C_out + 1/k²) = {1 / (1 / c_out + 1 / k**2):4.1f}")

# %% [markdown]
# The saving is 1 / (1/C_out + 1/k²) for the multiply-adds: with many output channels it approaches k², 9 for 3×3
# filters. The price is expressiveness: a depthwise filter cannot combine channels, so every spatial pattern is
# detected channel by channel and only then mixed.

# %% [markdown]
# ## Reducing the grid size without a bottleneck
#
# Between its stages a CNN halves the grid and (usually) doubles the channels, from d×d×k to (d/2)×(d/2)×2k. The
# paper's example is d = 35, k = 320. Two naive orders:
#
# - **pool, then convolve**: cheap, but the pooling alone squeezes the representation to a quarter of its size
#   before any layer has looked at it at full resolution — a representational bottleneck (principle 1);
# - **convolve, then pool**: no bottleneck, but the expensive convolution runs on the large grid.
#
# The paper's solution runs a stride-2 convolution and a stride-2 pooling **in parallel**, each producing k
# channels, and concatenates them. We measure the three with 3×3 convolutions:

# %%
# NBVAL_CHECK_OUTPUT
class ParallelReduction(nn.Module):
    """Stride-2 convolution (k -> k channels) and stride-2 max pooling side by side, concatenated: 2k channels."""

    def __init__(self, k: int):
        super().__init__()
        self.conv = nn.Conv2d(k, k, 3, stride=2, bias=False)
        self.pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], 1)


d, k = 35, 320
options = {
    "pool, then conv": nn.Sequential(nn.MaxPool2d(3, stride=2), nn.Conv2d(k, 2 * k, 3, padding=1, bias=False)),
    "conv, then pool": nn.Sequential(nn.Conv2d(k, 2 * k, 3, padding=1, bias=False), nn.MaxPool2d(3, stride=2)),
    "parallel (paper)": ParallelReduction(k),
}
shape = (1, k, d, d)
cost = {}
for name, option in options.items():
    seen = []  # the input shape of the option's convolution, recorded by a forward hook
    conv_layer = next(m for m in option.modules() if isinstance(m, nn.Conv2d))
    hook = conv_layer.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape[1:])))
    out = option(torch.zeros(shape))
    hook.remove()
    cost[name] = profile.count_macs(option, shape)
    print(f"{name:17s} output {tuple(out.shape[1:])}  {cost[name] / 1e6:7.1f} M multiply-adds  "
          f"the convolution sees a {'×'.join(map(str, seen[0]))} input")
cheap = cost["pool, then conv"]
print(f"conv-then-pool / pool-then-conv = {cost['conv, then pool'] / cheap:.2f} (= 35² / 17² = {35**2 / 17**2:.2f}); "
      f"parallel / pool-then-conv = {cost['parallel (paper)'] / cheap:.2f}")

# %% [markdown]
# The paper's formulas count 2(d/2)²k² operations for the first order and 2d²k² for the second, a factor of 4; with
# real layers (a 35×35 grid pools to 17×17, not 17.5) the factor is 35²/17² ≈ 4.2. (The caption of the paper's
# figure 9 says "3 times more expensive"; its own formulas give 4, and so does our measurement.) The parallel version
# costs half of the cheap order, because its convolution produces only k of the 2k channels, and its convolution
# still sees the full 35×35 input: no bottleneck. Inception-v3's real reduction blocks (`InceptionB` from 35 to 17,
# `InceptionD` from 17 to 8) have three parallel branches: a stride-2 convolution, a stack of 1×1 → 3×3 → stride-2
# 3×3, and the pooling.

# %%
print(inspect.getsource(InceptionB.__init__))

# %% [markdown]
# ## Inception-v3, block by block
#
# Five kinds of blocks, named as in torchvision: `InceptionA` on the 35×35 grid (GoogLeNet's module with the 5×5
# factorised into two 3×3s, plus a 5×5 branch that the released model keeps), `InceptionB` (reduction to 17×17),
# `InceptionC` on 17×17 with 7×7 factorised into 1×7 and 7×1, `InceptionD` (reduction to 8×8) and `InceptionE` on 8×8,
# the widened module whose 1×3 and 3×1 run side by side (principle 2). Every convolution is a `BasicConv2d`
# (convolution, BatchNorm, ReLU), shared with chapter 07. The 17×17 block:

# %%
print(inspect.getsource(InceptionC.forward))

# %% [markdown]
# The stem is five plain convolutions (three 3×3 where an earlier version had a 7×7, the ablation table's
# "factorized 7×7" row) and two poolings, from 299×299 down to 35×35. One auxiliary classifier sits on the last
# 17×17 grid. The torchinfo summary in training mode, so that the auxiliary head runs and is listed:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    v3 = models.inception_v3()
print(profile.summary(v3, (2, 3, 299, 299), device="meta", depth=1, mode="train"))

# %% [markdown]
# The parameters and multiply-adds by kind of block (the auxiliary head's computation measured on its own 17×17
# input, since it only runs in training):

# %%
# NBVAL_CHECK_OUTPUT
groups = {
    "stem": ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"],
    "3 × A (35×35)": ["Mixed_5b", "Mixed_5c", "Mixed_5d"],
    "B (35 -> 17)": ["Mixed_6a"],
    "4 × C (17×17)": ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"],
    "D (17 -> 8)": ["Mixed_7a"],
    "2 × E (8×8)": ["Mixed_7b", "Mixed_7c"],
    "classifier (fc)": ["fc"],
    "auxiliary head": ["AuxLogits"],
}
flops = profile.count_flops(v3, (1, 3, 299, 299), by_module=True)
aux_macs = profile.count_macs(v3.AuxLogits, (1, 768, 17, 17))
total_params = profile.count_params(v3)
print(f"{'blocks':16s} {'parameters':>11s} {'share':>6s} {'multiply-adds':>14s}")
for group, names in groups.items():
    params = sum(profile.count_params(getattr(v3, n)) for n in names)
    macs = aux_macs if group == "auxiliary head" else sum(flops[f"Inception3.{n}"] for n in names) // 2
    print(f"{group:16s} {params:11,d} {params / total_params:6.1%} {macs:14,d}")
print(f"{'total':16s} {total_params:11,d}")
meta = tvm.Inception_V3_Weights.DEFAULT.meta
print(f"torchvision's metadata: {meta['num_params']:,d} parameters, {meta['_ops']} G multiply-adds; "
      f"ours at inference: {flops['Global'] // 2 / 1e9:.3f} G")

# %% [markdown]
# 27,161,264 parameters, the number in torchvision's metadata, of which the auxiliary head holds 12%. The 8×8
# modules and the 17×17 modules hold most parameters. Our multiply-adds agree with torchvision's 5.71 G; the
# paper's ablation table (below) gives 4.8 billion operations for Inception-v3, which we cannot reproduce. The
# released TensorFlow model, which torchvision ports, is not exactly the network the paper describes — its 35×35
# modules keep a real 5×5 branch, for example, where figure 5 of the paper uses two 3×3s — but that difference
# is small:

# %%
# NBVAL_CHECK_OUTPUT
five = v3.Mixed_5b.branch5x5_2.conv  # 48 -> 64 channels, 5×5, on the 35×35 grid
as_two_3x3 = nn.Sequential(nn.Conv2d(48, 64, 3, padding=1, bias=False), nn.Conv2d(64, 64, 3, padding=1, bias=False))
saving = 3 * (profile.count_macs(five, (1, 48, 35, 35)) - profile.count_macs(as_two_3x3, (1, 48, 35, 35)))
print(f"factorising the three 5×5 branches would save {saving / 1e6:.0f} M multiply-adds of "
      f"{flops['Global'] // 2 / 1e6:,.0f} M")

# %% [markdown]
# The paper does not say how its "Bn Ops" were counted, so its cost column is best read as relative costs within
# its table, not as a number a FLOP counter will reproduce.
#
# **State-dict compatibility** with torchvision's `inception_v3`, in eval mode and in training mode (main output
# and auxiliary head; the head needs the full 299×299 input, see below):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
reference = tvm.inception_v3(weights=None, init_weights=True)
ours = models.inception_v3(init_weights=False)
print(models.check_twin(ours, reference, torch.randn(1, 3, 160, 160)))
print(models.check_twin(ours, reference, torch.randn(2, 3, 299, 299), train=True))

# %% [markdown]
# torchvision's weights metadata says the network accepts images from 75×75 pixels; that holds in eval mode. In
# training mode the auxiliary head's 5×5 average pooling with stride 3 and its unpadded 5×5 convolution need the
# full 17×17 grid, which only a 299×299 input produces. torchvision's model fails deep inside the head below that;
# ours says so up front:

# %%
# NBVAL_CHECK_OUTPUT
print(f"min_input_size {ours.min_input_size} (eval), "
      f"min_train_input_size {ours.min_train_input_size} (training, with the head)")
try:
    ours.train()(torch.zeros(2, 3, 224, 224))
except ValueError as err:
    print(f"ValueError: {err}")

# %% [markdown]
# ## Label smoothing
#
# Cross-entropy with one-hot targets is minimised only when the true class's probability is exactly 1, which
# needs its logit to be infinitely larger than the others. So a network trained long enough keeps growing its
# logits, becomes over-confident, and adapts less well. **Label smoothing** mixes the one-hot target with the
# uniform distribution over the K classes: $q' = (1 - \varepsilon)\,\delta_y + \varepsilon / K$. The true class gets
# $1 - \varepsilon + \varepsilon/K$, every other class $\varepsilon/K$ (the seed writes the same thing with
# $e = \varepsilon/K$: $e$ for every wrong class and $1 - (K-1)e$ for the true one). The paper used ε = 0.1 with K =
# 1000. The loss is then $(1-\varepsilon)\cdot\mathrm{CE}(p, y) + \varepsilon \cdot \mathrm{mean}_k(-\log p_k)$. The
# package's version:

# %%
print(inspect.getsource(scratch.label_smoothing_loss))

# %% [markdown]
# PyTorch has it built in as `nn.CrossEntropyLoss(label_smoothing=ε)`. Both agree, values and gradients:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
logits = torch.randn(16, 10) * 3
y = torch.randint(0, 10, (16,))
for eps in (0.0, 0.1, 0.2, 0.5):
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours_loss = scratch.label_smoothing_loss(a, y, eps)
    torch_loss = nn.CrossEntropyLoss(label_smoothing=eps)(b, y)
    ours_loss.backward(), torch_loss.backward()
    print(f"ε = {eps}: loss and gradient equal to PyTorch's (max abs difference < 1e-6): "
          f"{bool((ours_loss - torch_loss).abs() < 1e-6)}, {bool((a.grad - b.grad).abs().max() < 1e-6)}")
target = (1 - 0.1) * F.one_hot(torch.tensor(3), 10) + 0.1 / 10
print(f"smoothed target for class 3 of 10, ε = 0.1: {[round(v, 3) for v in target.tolist()]}")

# %% [markdown]
# Now its effect on a trained network. `models.inception_v3_small` is Inception-v3 in miniature: the stem for
# 32×32 images, one block of each kind (A, B, C, D, E) instead of 3 A, 4 C and 2 E, at a sixteenth of the width
# in tiny mode (full mode: all blocks at half the width on CIFAR-10 with random crops and flips). We train it
# twice from the same weights on the same batches, with SGD and momentum, once with plain cross-entropy and once
# with label smoothing ε = 0.1, for 2 epochs in tiny mode and 30 in full mode, and look at how confident each is on
# the test images: the histogram of the largest softmax probability. The learning rate, 0.045, is the paper's; the
# rest of the recipe is ours (a cosine decay over a short run). The paper trained on ImageNet for 100 epochs
# (batches of 32 on each of 50 machines, the learning rate multiplied by 0.94 every two epochs) and has no CIFAR
# experiment, so there is no paper schedule: `CNNCOURSE_SCHEDULE=paper` runs the same 30 epochs.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
batch_size = cfg.pick(tiny=32, full=128)
_, test_loader = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
EPOCHS = {"tiny": 2, "full": 30}  # no paper schedule: the paper trained on ImageNet only
epochs, width = cfg.pick(**EPOCHS), cfg.pick(tiny=0.0625, full=0.5)
blocks = cfg.pick(tiny=(1, 1, 1), full=(3, 4, 2))


def train_small(optimizer: str, epsilon: float) -> tuple[nn.Module, train.History]:
    """The small Inception-v3 trained with SGD or RMSProp (the paper's settings) and label smoothing ε."""
    torch.manual_seed(0)
    net = models.inception_v3_small(10, channels, width=width, blocks=blocks)
    if optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=0.045, momentum=0.9)
    else:
        opt = torch.optim.RMSprop(net.parameters(), lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)
    train_loader, _ = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
    history = train.fit(net, train_loader, epochs, val_loader=test_loader, optimizer=opt, schedule="cosine",
                        loss_fn=lambda out, target: scratch.label_smoothing_loss(out, target, epsilon),
                        device=cfg.device, verbose=False,
                        checkpoint=cfg.checkpoint(f"09_inception_v3-{optimizer}-eps{epsilon}"))
    print(f"{optimizer}, ε = {epsilon}: test accuracy per epoch {' '.join(f'{a:.1%}' for a in history['val_acc'])}")
    return net, history


nets, histories = {}, {}
for epsilon in (0.0, 0.1):
    nets[epsilon], histories[("sgd", epsilon)] = train_small("sgd", epsilon)

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
mean_confidence = {}
for epsilon, net in nets.items():
    logits, labels = train.predict(net, test_loader, device=cfg.device)
    confidence = logits.softmax(dim=1).max(dim=1).values
    accuracy = (logits.argmax(1) == labels).float().mean()
    mean_confidence[epsilon] = float(confidence.mean())
    ax.hist(confidence.numpy(), bins=40, range=(0, 1), alpha=0.6,
            label=f"ε = {epsilon}: mean {confidence.mean():.2f}, accuracy {accuracy:.1%}")
    print(f"ε = {epsilon}: mean confidence {confidence.mean():.3f}, share of predictions above 0.95: "
          f"{(confidence > 0.95).float().mean():.1%}, test accuracy {accuracy:.1%}")
ax.axvline(1 - 0.1 + 0.1 / 10, color="black", linestyle="--", label="smoothed target 1 − ε + ε/K = 0.91")
ax.set_xlabel("largest softmax probability of a test prediction")
ax.set_ylabel("test images")
ax.set_yscale("log")
ax.set_title("Small Inception-v3: confidence with and without label smoothing")
ax.legend(fontsize="small", loc="upper left")
plt.tight_layout()
plt.show()
cfg.expect(mean_confidence[0.1] < mean_confidence[0.0], "label smoothing should make the predictions less confident")

# %% [markdown]
# Without smoothing, the predictions pile up near probability 1. With ε = 0.1 the loss is lowest when the true
# class gets 0.91 and every other class 0.01, so the model has no reason to go beyond: the mass moves down
# towards the dashed line. Accuracy is not the point of the comparison (two runs with one seed cannot rank the
# methods); the point is that the reported probabilities are less extreme. On ImageNet the
# change was worth 0.3 points of top-1 error (the ablation table below), and later work (Müller, Kornblith and
# Hinton, *When does label smoothing help?*, 2019) found that it also makes the probabilities better calibrated.

# %% [markdown]
# ## RMSProp instead of SGD
#
# The paper's best models were trained with RMSProp: every weight's step is divided by the square root of a moving
# average of its squared gradients (decay 0.9), with ε = 1.0, learning rate 0.045. Two details when porting this to
# PyTorch. TensorFlow adds ε *inside* the square root, $\sqrt{v + \varepsilon}$, PyTorch outside,
# $\sqrt{v} + \varepsilon$ (timm's `RMSpropTF` copies TensorFlow's); with ε = 1.0 both make the denominator close
# to 1 while the squared gradients are small, so the optimizer behaves like SGD with momentum at first and damps
# only weights with large gradients. And TensorFlow-slim's training script adds momentum 0.9, as we do. The same
# small network with the same learning rate, RMSProp against the SGD run above:

# %%
_, histories[("rmsprop", 0.0)] = train_small("rmsprop", 0.0)
fig = plot.plot_history({"SGD, momentum 0.9": histories[("sgd", 0.0)],
                         "RMSProp (decay 0.9, ε = 1.0), momentum 0.9": histories[("rmsprop", 0.0)]},
                        title="Small Inception-v3: SGD vs RMSProp, learning rate 0.045")
plt.show()

# %%
for name, history in {"SGD": histories[("sgd", 0.0)], "RMSProp": histories[("rmsprop", 0.0)]}.items():
    print(f"{name:8s} final test accuracy {history.last['val_acc']:.1%}, "
          f"final training loss {history.last['train_loss']:.3f}")

# %% [markdown]
# With the same learning rate the two runs differ only where a weight's gradients are large enough for RMSProp's
# denominator to rise above 1 and shrink its steps. Two short runs with one seed cannot rank the optimizers; the
# paper's gain from the switch was 0.3 points of top-1 error on ImageNet (next table), measured over a run of many
# epochs.

# %% [markdown]
# ## The paper's ablation table, reproduced
#
# The paper did not train Inception-v3 in one go; it added one change at a time to its Inception-v2 and measured
# each step (single crop, ImageNet validation). The table is from the seed (the paper's table 3); we do not
# re-train it, but we can read it properly. **Each "Inception-v2 + ..." row includes the changes of the rows above
# it**, so the differences between consecutive rows are what each change bought:

# %%
# NBVAL_CHECK_OUTPUT
ablation = [  # (network, top-1 error %, top-5 error % or None, cost in billions of operations)
    ("GoogLeNet", 29.0, 9.2, 1.5),
    ("BN-GoogLeNet", 26.8, None, 1.5),
    ("BN-Inception", 25.2, 7.8, 2.0),
    ("Inception-v2", 23.4, None, 3.8),
    ("Inception-v2 + RMSProp", 23.1, 6.3, 3.8),
    ("  + Label Smoothing", 22.8, 6.1, 3.8),
    ("  + Factorized 7×7", 21.6, 5.8, 4.8),
    ("  + BN-auxiliary (= Inception-v3)", 21.2, 5.6, 4.8),
]
print(f"{'network':36s} {'top-1 err':>9s} {'top-5 err':>9s} {'cost':>5s} {'Δ top-1':>8s} {'Δ cost':>7s}")
for i, (name, top1, top5, ops) in enumerate(ablation):
    delta = f"{top1 - ablation[i - 1][1]:+.1f}" if i else ""
    dcost = f"{ops - ablation[i - 1][3]:+.1f}" if i else ""
    top5_text = f"{top5:.1f}" if top5 is not None else "–"
    print(f"{name:36s} {top1:9.1f} {top5_text:>9s} {ops:5.1f} {delta:>8s} {dcost:>7s}")
print(f"Inception-v3 vs GoogLeNet: {ablation[0][1] - ablation[-1][1]:.1f} points lower top-1 error "
      f"for {ablation[-1][3] / ablation[0][3]:.1f}x the cost")

# %% [markdown]
# How to read it:
#
# - **BN-GoogLeNet** is GoogLeNet with BatchNorm (chapter 08) and **BN-Inception** the network of the BatchNorm
#   paper, which also replaced each 5×5 convolution by two 3×3s: 3.8 points of top-1 error together, before any
#   of the v3 ideas.
# - **Inception-v2** is the new architecture (factorised modules, the efficient grid reductions, wider modules):
#   1.8 points more, at almost twice BN-Inception's cost.
# - **RMSProp** (−0.3) and **label smoothing** (−0.3) change only the training and cost nothing at inference.
# - **Factorized 7×7** replaces the first 7×7 convolution of the stem by a sequence of 3×3 convolutions (torchvision's
#   `Conv2d_1a_3x3`, `Conv2d_2a_3x3`, `Conv2d_2b_3x3`): the largest single gain, −1.2, and the only change
#   that adds cost (+1.0 billion operations, the stem runs on the largest grid). The seed's "7×7 into two 3×3"
#   describes this row.
# - **BN-auxiliary** normalises the fully-connected layer of the auxiliary classifier as well, not just its
#   convolutions: −0.4. The paper reads this as evidence that the auxiliary head acts as a regulariser. The released
#   model (and so torchvision's `InceptionAux`) batch-normalises the head's convolutions but not its linear layer.
#
# The last row is Inception-v3: 21.2% top-1 error single-crop in the paper; torchvision's port of the released
# weights reports 77.3% top-1 accuracy (22.7% error) with its own evaluation (resize to 342, centre crop 299).

# %% [markdown]
# ## Use it: a real photo through ImageNet weights
#
# Inception-v3 takes 299×299 images; torchvision's preprocessing resizes the short side to 342 and crops the
# centre. Like GoogLeNet's, the weights come from TensorFlow and expect pixels in [-1, 1], so
# `models.inception_v3(weights=...)` turns on `transform_input`. Unlike GoogLeNet's, the auxiliary head in the file
# was trained, and it is kept.

# %%
# NBVAL_CHECK_OUTPUT
weights = tvm.Inception_V3_Weights.IMAGENET1K_V1
preprocess = weights.transforms()
photo = data.sample_image("china.jpg")
image = preprocess(torch.from_numpy(photo).permute(2, 0, 1))  # H×W×3 uint8 -> 3×299×299 float
metrics = weights.meta["_metrics"]["ImageNet-1K"]
print(f"photo {photo.shape} -> model input {tuple(image.shape)}; weights file {weights.url.rsplit('/', 1)[1]}")
print(f"reported ImageNet accuracy: top-1 {metrics['acc@1']}%, top-5 {metrics['acc@5']}%")

# %%
if cfg.full:
    pretrained = models.inception_v3(weights=weights).eval().to(cfg.device)
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                                "Inception-v3 (torchvision ImageNet weights): top-5 classes")
    plt.show()
else:
    print(f"tiny mode: prediction with pretrained ImageNet weights skipped (it needs a "
          f"{weights.meta['_file_size']:.0f} MB download); "
          "run with CNNCOURSE_MODE=full to see the top-5 classes")

# %% [markdown]
# ## What full mode costs, and the results
#
# The three full-mode training runs (SGD with and without label smoothing, RMSProp), estimated from the small
# network's FLOPs at its full-mode size (`profile.estimate_minutes`; the README states its assumptions), plus the
# one-time downloads of CIFAR-10 and of the weight file above:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    full_small = models.inception_v3_small(10, 3, width=0.5, blocks=(3, 4, 2))
minutes = 3 * profile.estimate_minutes(full_small, (3, 32, 32), images=50_000, epochs=EPOCHS["full"], batch_size=128,
                                       eval_images=10_000)
estimated = {"class": minutes, "paper": minutes}
print(f"small Inception-v3 at full-mode size: {profile.count_params(full_small):,d} parameters, "
      f"{profile.count_macs(full_small, (1, 3, 32, 32)) / 1e6:.1f} M multiply-adds per 32×32 image")
print(f"full mode, either schedule: {EPOCHS['full']} epochs per run, about {minutes:.1f} GPU minutes for all three")

# %%
_ = results.record(
    cfg, "09_inception_v3",
    {"parameters (auxiliary head included)": total_params,
     "G multiply-adds per 299×299 image": flops["Global"] // 2 / 1e9,
     "mean confidence on test images, ε = 0 (%)": 100 * mean_confidence[0.0],
     "mean confidence on test images, ε = 0.1 (%)": 100 * mean_confidence[0.1],
     "test accuracy, SGD (%)": 100 * histories[("sgd", 0.0)].last["val_acc"],
     "test accuracy, SGD with label smoothing (%)": 100 * histories[("sgd", 0.1)].last["val_acc"],
     "test accuracy, RMSProp (%)": 100 * histories[("rmsprop", 0.0)].last["val_acc"]},
    references={"parameters (auxiliary head included)": meta["num_params"], "G multiply-adds per 299×299 image": meta["_ops"]},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/09_inception_v3.ipynb](solutions/09_inception_v3.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/09_inception_v3.ipynb)
#
# 1. Compute by hand the parameters of one `InceptionC` block with `channels_7x7=192` and check your count with
#    `profile.count_params(models.inception_v3().Mixed_6e)`. How many would it have with full 7×7 convolutions?
# 2. Build a 5×5 kernel of rank 1 and show that a 5×1 followed by a 1×5 convolution reproduces it. Then train a
#    5×1 → 1×5 pair to imitate a random 5×5 kernel: how close does it get, compared with the SVD's best rank-1
#    approximation?
# 3. Train the small network with ε = 0.3. What happens to the confidence histogram and to the accuracy?
# 4. Replace `torch.optim.RMSprop` by `timm.optim.RMSpropTF` (TensorFlow's ε inside the square root) with the same
#    settings. Does the run change?
# 5. `ParallelReduction` uses max pooling. Swap in average pooling, then a second stride-2 convolution instead of
#    the pooling. What happens to the parameters and multiply-adds?
