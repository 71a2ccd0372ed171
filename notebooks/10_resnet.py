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
# # 10 · ResNet: residual learning and the degradation problem
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/10_resnet.ipynb)
#
# VGG (chapter 05) showed that depth pays; GoogLeNet went to 22 layers. Why not 56, or 152? A deeper network can
# represent everything a shallower one can: copy the shallow network's layers and let the extra layers compute the
# identity. So a deeper network should never fit its *training* data worse. In practice it did: He, Zhang, Ren and
# Sun (2015) trained "plain" stacks of 20 and 56 layers on CIFAR-10 and the deeper one had the higher training
# error. Not over-fitting (that would lower the training error), but an optimisation problem they called
# **degradation**. Their fix is one addition per block: let the layers learn a *residual* F(x) and output
# F(x) + x. This chapter measures the degradation, builds the blocks, checks the ImageNet ResNets against
# torchvision's and compares everything with the paper's numbers.

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
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, plot, profile, results, train
from cnncourse.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## The residual block
#
# A *plain* block of two 3×3 convolutions has to produce the wanted mapping H(x) itself. A *residual* block adds
# its input back: it outputs relu(F(x) + x), so its layers only have to learn the difference F(x) = H(x) − x.
# Both are the package's `BasicBlock`; `residual=False` leaves out the addition. Its forward pass is short enough
# to read in full:

# %%
print(inspect.getsource(BasicBlock.forward))

# %% [markdown]
# ### Why F(x) + x makes the identity easy
#
# Suppose the best thing a block can do is nothing: pass its input on. A residual block gets there by making F
# zero — for instance by setting the scale of its last BatchNorm to 0 (its shift starts at 0). A plain block has
# to make its two convolutions, two normalisations and a ReLU reproduce the input exactly. A block's input is the
# previous block's ReLU output, so it is never negative, and relu(0 + x) = x:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
residual_block, plain_block = BasicBlock(16, 16).eval(), BasicBlock(16, 16, residual=False).eval()
for block in (residual_block, plain_block):
    nn.init.zeros_(block.bn2.weight)  # F(x) = 0
x = torch.randn(8, 16, 8, 8).relu()
with torch.no_grad():
    print(f"residual block with F = 0 returns its input exactly: {torch.equal(residual_block(x), x)}")
    print(f"plain block with the same weights returns all zeros: {torch.equal(plain_block(x), torch.zeros_like(x))}")

# %% [markdown]
# The plain block could represent the identity too, in principle. What matters is how easily gradient descent
# finds it. We train one freshly initialised block of each kind for 100 SGD steps to copy its input (mean squared
# error between output and input, learning rate 0.1, momentum 0.9):

# %%
def learn_identity(block: nn.Module, x: torch.Tensor, steps: int = 100) -> list[float]:
    """Train ``block`` to output its input; return the mean squared error after every step."""
    optimizer = torch.optim.SGD(block.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(block(x), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


x = torch.randn(64, 16, 8, 8, generator=torch.Generator().manual_seed(0)).relu()
identity_runs = {}
for name, residual in (("plain block", False), ("residual block", True)):
    torch.manual_seed(0)
    identity_runs[name] = learn_identity(BasicBlock(16, 16, residual=residual), x)
    print(f"{name:15s} error at the start {identity_runs[name][0]:.3f}, after 100 steps {identity_runs[name][-1]:.4f}")
cfg.expect(identity_runs["residual block"][-1] < identity_runs["plain block"][-1] / 5,
           "the residual block should learn the identity much faster")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, losses in identity_runs.items():
    ax.semilogy(range(1, len(losses) + 1), losses, label=name)
ax.set_xlabel("SGD step")
ax.set_ylabel("mean squared error (log scale)")
ax.set_title("Learning the identity: plain vs residual block (16 channels, 8×8)")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# The residual block gets close to the identity many times faster: it starts from "input plus a disturbance" and
# only has to shrink the disturbance. The paper's argument is exactly this: if the identity (or something near it)
# is what the extra layers of a deep network should compute, residual layers find it, plain ones struggle.

# %% [markdown]
# ## Basic and bottleneck blocks
#
# ResNet-18 and -34 stack basic blocks. For ResNet-50/101/152 the paper uses a **bottleneck**: a 1×1 convolution
# narrows 256 channels to 64, a 3×3 convolution works on those 64, and another 1×1 convolution widens them back to
# 256 (`Bottleneck.expansion` = 4). The paper compares a basic block on 64 channels with a bottleneck on 256
# channels (its Fig. 5), both on 56×56 maps. We measure them, and a basic block on 256 channels for scale:

# %%
# NBVAL_CHECK_OUTPUT
blocks = {
    "basic, 64 channels": (BasicBlock(64, 64), 64),
    "bottleneck, 256 channels (64 inside)": (Bottleneck(256, 64), 256),
    "basic, 256 channels": (BasicBlock(256, 256), 256),
}
print(f"{'block on a 56×56 map':38s} {'params':>10s} {'MFLOPs':>9s}")
for name, (block, channels) in blocks.items():
    params = profile.count_params(block)
    mflops = profile.count_flops(block, (1, channels, 56, 56)) / 1e6
    print(f"{name:38s} {params:10,d} {mflops:9.1f}")
bottleneck, wide_basic = blocks["bottleneck, 256 channels (64 inside)"][0], blocks["basic, 256 channels"][0]
convs = [c.weight.numel() for c in (bottleneck.conv1, bottleneck.conv2, bottleneck.conv3)]
print(f"bottleneck conv weights: 256·64 + 9·64·64 + 64·256 = {' + '.join(f'{n:,d}' for n in convs)}")
print(f"a basic block on 256 channels has {profile.count_params(wide_basic) / profile.count_params(bottleneck):.1f}x "
      f"the bottleneck's parameters")

# %% [markdown]
# The bottleneck carries four times as many channels from block to block as the 64-channel basic block, for
# slightly fewer parameters and FLOPs. A basic block that wide would cost almost 17 times as much (printed above). That is what lets
# ResNet-50 be deeper and wider than ResNet-34 at roughly the same cost.

# %% [markdown]
# ## When the shape changes: shortcut options A and B
#
# The first block of a stage halves the map (its first convolution has stride 2) and doubles the channels, so x
# no longer has F(x)'s shape. The paper offers two fixes:
#
# - **Option A** — identity with zero padding: keep every other pixel and append all-zero channels. No
#   parameters; the paper's choice for its CIFAR-10 networks (`ZeroPadShortcut`).
# - **Option B** — a projection: a 1×1 convolution with stride 2 (+ BatchNorm) where the shape changes, identity
#   everywhere else. torchvision's ImageNet ResNets use it.
#
# (Option C, projections on every block, was slightly better in the paper's ImageNet ablation, but not worth its
# parameters.)

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 16, 32, 32)
padded = ZeroPadShortcut(stride=2, extra=16)(x)
print(f"option A: {tuple(x.shape)} -> {tuple(padded.shape)}; the first 16 channels are x[:, :, ::2, ::2]: "
      f"{torch.equal(padded[:, :16], x[:, :, ::2, ::2])}, the new 16 are zero: {not padded[:, 16:].any()}")
net_a, net_b = models.resnet_cifar(20, shortcut="A"), models.resnet_cifar(20, shortcut="B")
for label, net in (("A", net_a), ("B", net_b)):
    for i, stage in enumerate(net.stages()):
        shortcut = stage[0].downsample
        if isinstance(shortcut, nn.Sequential):  # option B: 1×1 convolution + BatchNorm
            conv = shortcut[0]
            shortcut = (f"1×1 conv {conv.in_channels} -> {conv.out_channels}, stride {conv.stride[0]}, + BatchNorm: "
                        f"{profile.count_params(shortcut):,d} parameters")
        if shortcut is not None:
            print(f"option {label}, layer{i + 1}.0.downsample: {shortcut}")
extra = profile.count_params(net_b) - profile.count_params(net_a)
print(f"ResNet-20 parameters: option A {profile.count_params(net_a):,d}, option B {profile.count_params(net_b):,d} "
      f"(+{extra:,d} = (16·32 + 2·32) + (32·64 + 2·64), {extra / profile.count_params(net_a):.1%} more)")

# %% [markdown]
# ## The paper's CIFAR-10 networks
#
# Section 4.2 of the paper builds networks for 32×32 images from 6n + 2 weight layers: one 3×3 convolution with 16
# channels, then three stages of n basic blocks (2n layers each) on 32×32, 16×16 and 8×8 maps with 16, 32 and 64
# channels, then global average pooling and a 10-way linear layer. `models.resnet_cifar(depth)` builds them (option
# A by default) and `models.plain_cifar(depth)` the same layers without shortcuts. The paper's test errors are from
# its Table 6:

# %%
# NBVAL_CHECK_OUTPUT
PAPER_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}  # % on CIFAR-10, He et al. 2015, Table 6
print(f"{'model':10s} {'n':>3s} {'weight layers':>13s} {'params (A)':>11s} {'plain':>9s} {'MFLOPs':>7s} "
      f"{'paper error':>11s}")
for depth, error in PAPER_ERROR.items():
    with torch.device("meta"):
        net, plain = models.resnet_cifar(depth), models.plain_cifar(depth)
    layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    mflops = profile.count_flops(net, (1, 3, 32, 32)) / 1e6
    print(f"ResNet-{depth:<3d} {(depth - 2) // 6:3d} {layers:13d} {profile.count_params(net):11,d} "
          f"{profile.count_params(plain):9,d} {mflops:7.1f} {error:10.2f}%")

# %% [markdown]
# The counts are the paper's 0.27M, 0.46M, 0.66M, 0.85M and 1.7M. Option A shortcuts cost nothing, so a plain
# network has exactly as many parameters as its ResNet — the comparison below changes one thing only.

# %% [markdown]
# ## The ImageNet family: verified against torchvision
#
# For ImageNet the stem is a 7×7 convolution with stride 2 and a 3×3 max pooling (224 → 56), followed by four
# stages on 56, 28, 14 and 7 pixels with projection shortcuts (option B). `models.resnet18` … `resnet152` use
# torchvision's layer names, so torchvision's state dict loads into ours strictly and both compute the same
# function (`models.check_twin`):

# %%
# NBVAL_CHECK_OUTPUT
reference = tvm.resnet50(weights=None)
gen = torch.Generator().manual_seed(1)  # its own generator: the global seed's draws below stay as they were
with torch.no_grad():  # BatchNorm scales and running statistics away from 1 and 0, so that each one matters
    reference.train()(torch.randn(4, 3, 64, 64, generator=gen))
    for m in reference.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5, generator=gen)
with torch.device("meta"):
    ours = models.resnet50()
print(models.check_twin(ours, reference, torch.randn(2, 3, 64, 64), assign=True))
assert (ours.min_input_size,) * 2 == tuple(tvm.ResNet50_Weights.DEFAULT.meta["min_size"])
with torch.no_grad():
    print(f"smallest input {ours.min_input_size}×{ours.min_input_size} (as torchvision's metadata says): "
          f"output {tuple(ours(torch.randn(1, 3, 1, 1)).shape)}")
del reference

# %% [markdown]
# Each network, built on the `meta` device (shapes only, no memory, no arithmetic), with its parameters, its
# multiply-adds for one 224×224 image (`profile.count_macs`), the paper's Table 1 figure, and the top-1 accuracy
# torchvision publishes for its weights:

# %%
# NBVAL_CHECK_OUTPUT
FAMILY = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3,
          "resnext50_32x4d": None, "wide_resnet50_2": None}  # paper: 10^9 multiply-adds ("FLOPs"), Table 1
print(f"{'model':16s} {'blocks':24s} {'params':>11s} {'= torchvision':>13s} {'GMACs':>6s} {'paper':>6s} {'top-1':>7s}")
imagenet_nets = {}
for name, paper in FAMILY.items():
    with torch.device("meta"):
        net = imagenet_nets[name] = getattr(models, name)()
    weights = tvm.get_model_weights(name).DEFAULT
    kind = "bottleneck" if isinstance(net.layer1[0], Bottleneck) else "basic"
    layout = f"{kind} {[len(s) for s in net.stages()]}"
    params, gmacs = profile.count_params(net), profile.count_macs(net, (1, 3, 224, 224)) / 1e9
    print(f"{name:16s} {layout:24s} {params:11,d} {str(params == weights.meta['num_params']):>13s} {gmacs:6.2f} "
          f"{paper if paper else '—':>6} {weights.meta['_metrics']['ImageNet-1K']['acc@1']:6.2f}%")

# %% [markdown]
# The basic-block networks match the paper's figures; the bottleneck ones need 0.2–0.3 GMACs more. The reason is
# a later change: torchvision (following an NVIDIA recipe) moved the stride of each stage's first bottleneck from
# its first 1×1 convolution to its 3×3 convolution ("ResNet v1.5"): NVIDIA reports it as slightly more accurate,
# and it costs more because the first 1×1 convolution now outputs a map four times larger. Moving the stride back
# (teaching code: same weights, different strides) reproduces the paper's counts:

# %%
# NBVAL_CHECK_OUTPUT
def stride_on_first_1x1(net: nn.Module) -> nn.Module:
    """The paper's original bottleneck: the stage's stride on conv1 (1×1) instead of conv2 (3×3). Same weights."""
    for block in net.modules():
        if isinstance(block, Bottleneck) and block.conv2.stride != (1, 1):
            block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return net


for name in ("resnet50", "resnet101", "resnet152"):
    v15 = profile.count_macs(imagenet_nets[name], (1, 3, 224, 224)) / 1e9
    v1 = profile.count_macs(stride_on_first_1x1(imagenet_nets[name]), (1, 3, 224, 224)) / 1e9
    print(f"{name:9s} v1.5 (torchvision) {v15:5.2f} GMACs, v1 (paper) {v1:5.2f} GMACs, paper {FAMILY[name]}")
with torch.device("meta"):
    vgg16 = models.vgg16()
print(f"for comparison, VGG-16: {profile.count_params(vgg16):,d} parameters, "
      f"{profile.count_macs(vgg16, (1, 3, 224, 224)) / 1e9:.2f} GMACs")

# %% [markdown]
# ResNet-152 is more than nine times as deep as VGG-16, yet needs fewer multiply-adds (11.5 billion vs 15.5) and
# has less than half the parameters (60 M vs 138 M): bottlenecks, and global average pooling instead of
# 4096-wide fully-connected layers. ResNeXt and Wide ResNet come out of the same builder: ResNeXt-50 32×4d splits
# each bottleneck's 3×3 convolution into 32 groups (of 4 channels in the first stage), Wide ResNet-50-2 makes the
# inside of every bottleneck twice as wide.

# %% [markdown]
# ## The degradation problem, measured
#
# We train plain-20, plain-56, ResNet-20 and ResNet-56 on the same data with the same schedule, and compare their
# **training** error (how well each fits the data it sees).
#
# - **Full mode** — CIFAR-10 with the paper's augmentation (4-pixel padding, random 32×32 crops, horizontal
#   flips), the paper's widths (16/32/64), batch 128, SGD with momentum 0.9, learning rate 0.1, weight decay
#   1e-4 (on weights, not on BatchNorm parameters or biases: `train.fit`'s rule). The paper trains 64,000 steps
#   and divides the learning rate by 10 at 32,000 and 48,000. The `class` schedule is **shortened** to 22 epochs
#   (8,602 steps) with the divisions at the same fractions, 50% and 75%. The `paper` schedule
#   (`CNNCOURSE_SCHEDULE=paper`) divides at 32,000 and 48,000 steps and stops after 164 epochs, 64,124 steps (the
#   paper stops at 64,000, in the middle of an epoch).
# - **Tiny mode** — the 1,347 handwritten training digits at the 8×8 pixels they were scanned at
#   (`data.small_images` enlarges them to 32×32; averaging 4×4 blocks undoes that), networks at half the paper's
#   width (8/16/32 channels), batch 32, learning rate 0.02 with a 40-step warm-up and a cosine decay over 14
#   epochs (602 steps), momentum 0.9, weight decay 1e-4. Small enough for a CPU, large enough to show the effect.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
if cfg.tiny:  # back to the digits' native 8×8 pixels
    train_set, test_set = (TensorDataset(F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1]) for ds in (train_set, test_set))
channels, size = train_set[0][0].shape[0], train_set[0][0].shape[-1]
EPOCHS = {"tiny": 14, "full": 22, "paper": 164}  # paper: 64,000 steps of 128 images ≈ 164 passes over 50,000
width, epochs = cfg.pick(tiny=8, full=16), cfg.pick(**EPOCHS)
batch_size, lr = cfg.pick(tiny=32, full=128), cfg.pick(tiny=0.02, full=0.1)
train_loader, test_loader = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
total_steps = epochs * len(train_loader)
if cfg.tiny:
    schedule = train.lr_schedule("cosine", total_steps, warmup_steps=40)
else:  # ÷10 twice: at the paper's steps, or at the same fractions of the class schedule
    milestones = cfg.pick(tiny=None, full=[total_steps // 2, total_steps * 3 // 4], paper=[32_000, 48_000])
    schedule = train.lr_schedule("step", total_steps, milestones=milestones)
    print(f"learning rate 0.1, divided by 10 at steps {milestones[0]:,d} and {milestones[1]:,d}")
print(f"{len(train_set):,d} training images of {channels}×{size}×{size}, {epochs} epochs = {total_steps:,d} steps "
      f"of {batch_size}, widths {width}/{2 * width}/{4 * width}")
cifar_steps = {s: EPOCHS[s] * -(-50_000 // 128) for s in ("full", "paper")}  # full mode: CIFAR-10, batch 128
print(f"full mode: class schedule {EPOCHS['full']} epochs = {cifar_steps['full']:,d} steps, paper schedule "
      f"{EPOCHS['paper']} epochs = {cifar_steps['paper']:,d} steps ({cifar_steps['full'] / 64_000:.0%} and "
      f"{cifar_steps['paper'] / 64_000:.0%} of the paper's 64,000)")


def build(kind: str, depth: int) -> nn.Module:
    torch.manual_seed(0)  # every network starts from the same seed
    builder = models.plain_cifar if kind == "plain" else models.resnet_cifar
    return builder(depth, num_classes=len(class_names), in_channels=channels, width=width)


def train_network(kind: str, depth: int, schedule=schedule) -> train.History:
    return train.fit(build(kind, depth), train_loader, epochs, val_loader=test_loader, lr=lr, weight_decay=1e-4,
                     schedule=schedule, device=cfg.device, verbose=cfg.full,  # full mode: a line per epoch
                     checkpoint=cfg.checkpoint(f"10_resnet-{kind}{depth}"))


histories = {}
for kind, label in (("plain", "plain"), ("resnet", "ResNet")):
    for depth in (20, 56):
        histories[f"{label}-{depth}"] = history = train_network(kind, depth)
        last = history.last
        print(f"{label + '-' + str(depth):10s} training error {100 * (1 - last['train_acc']):5.1f}%  "
              f"test error {100 * (1 - last['val_acc']):5.1f}%  (last epoch)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for (name, history), color in zip(histories.items(), ["C0", "C3", "C0", "C3"]):
    style = "--" if name.startswith("plain") else "-"
    for ax, key in zip(axes, ("train_acc", "val_acc")):
        errors = [100 * (1 - a) for a in history[key]]
        ax.plot(history["epoch"], errors, style, color=color, marker="o", markersize=3, label=name)
for ax, what in zip(axes, ("training", "test")):
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{what} error (%)")
    ax.set_title(f"{what} error per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"Plain (dashed) vs residual (solid) networks of 20 and 56 layers, {channels}×{size}×{size} images")
fig.tight_layout()
plt.show()

# %%
final = {name: 100 * (1 - h.last["train_acc"]) for name, h in histories.items()}
plain_gap, residual_gap = final["plain-56"] - final["plain-20"], final["ResNet-56"] - final["ResNet-20"]
print(f"56 layers minus 20 layers, training error after the last epoch: plain {plain_gap:+.1f} points, "
      f"residual {residual_gap:+.1f} points")
cfg.expect(plain_gap > cfg.pick(tiny=10.0, full=1.0), "the deeper plain network should train worse")
cfg.expect(residual_gap <= 1.0, "the deeper residual network should train as well as the shallower one")

# %% [markdown]
# Going from 20 to 56 layers makes the plain network *worse* at fitting its own training data — by tens of
# percentage points in tiny mode — while the residual network of 56 layers ends where the 20-layer one ends. Same
# layers, same parameters, same schedule: the only difference is the addition. The test error (right) follows the
# training error, so this is not over-fitting: the deep plain network does not manage to fit its training data.
#
# The cell above asserts this ordering, so a change that broke it would be caught. For the residual pair it allows
# one percentage point, because in tiny mode both misclassify only a handful of the 1,347 training digits by the
# end. The deeper ResNet starts a little slower and catches up; tiny mode's 602 steps are too few for it to get
# clearly *below* ResNet-20, as it does in the paper's 64,000.

# %% [markdown]
# ## Gradient norms at initialisation
#
# A common explanation blames degradation on vanishing gradients. The paper argues against that: its plain networks
# use BatchNorm, and it reports that their gradients have healthy norms. We can look: one forward and backward
# pass of a training batch through freshly initialised plain-56 and ResNet-56, and the norm of the loss gradient
# for every layer's weights (`profile.gradient_norms`).

# %%
x, y = next(iter(data.loaders(train_set, test_set, batch_size=128, seed=0)[0]))
grad_norms = {kind: profile.gradient_norms(build(kind, 56), x, y) for kind in ("plain", "resnet")}
for kind, norms in grad_norms.items():
    values = list(norms.values())
    convs = values[:-1]  # the last entry is the linear classifier
    print(f"{kind:6s}: {len(values)} layers; first conv {convs[0]:.3g}, last conv {convs[-1]:.3g}, "
          f"ratio {convs[0] / convs[-1]:.0f}x")
spread = {kind: list(n.values())[0] / list(n.values())[-2] for kind, n in grad_norms.items()}
assert spread["plain"] > 10 * spread["resnet"]

fig, ax = plt.subplots(figsize=(9, 3.8))
for kind, label in (("plain", "plain-56"), ("resnet", "ResNet-56")):
    values = list(grad_norms[kind].values())
    ax.semilogy(range(1, len(values) + 1), values, marker=".", label=label)
ax.set_xlabel("layer (1 = first convolution, 56 = linear classifier)")
ax.set_ylabel("‖∂loss/∂weights‖ (log scale)")
ax.set_title("Gradient norm per layer at initialisation, one batch of 128 training images")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()

# %% [markdown]
# Nothing vanishes. In the plain network the gradients *grow* towards the input, by the large factor printed above
# — deep stacks of BatchNorm layers without shortcuts are known to do this at initialisation (Yang et al., *A Mean
# Field Theory of Batch Normalization*, 2019). One learning rate is then far too large for the first layers or far
# too small for the last ones. In the residual network the gradient reaches every block directly along the chain
# of shortcuts (the derivative of x + F(x) contains the identity), and the norms stay within a much narrower band.
# The paper itself conjectures that deep plain networks converge exponentially slowly; the gradient scale is one
# measurable symptom, not a proof of the cause.

# %% [markdown]
# ## The paper's CIFAR-10 table and what full mode reaches
#
# The paper's Table 6 reports test errors after 64,000 steps. Full mode trains every depth of the table with the
# schedule above (ResNet-20 and -56 are the runs from the degradation experiment; ResNet-110 gets the paper's
# warm-up: learning rate 0.01 for its first 400 steps) and shows the test error after the last epoch beside the
# paper's. The class schedule has less than a fifth of the paper's steps, so expect its errors somewhat above the
# paper's.
# (The paper reports ResNet-110 as the best of five runs; we run each network once.)

# %%
if cfg.full:
    base = schedule
    warmup_110 = lambda t: 0.1 * base(t) if t < 400 else base(t)  # noqa: E731  (0.1 × lr 0.1 = 0.01)
    errors = {20: histories["ResNet-20"], 56: histories["ResNet-56"]}
    for depth in (32, 44, 110):
        errors[depth] = train_network("resnet", depth, schedule=warmup_110 if depth == 110 else schedule)
    test_error = {depth: 100 * (1 - h.last["val_acc"]) for depth, h in errors.items()}
    print(f"{'model':10s} {'paper':>7s} {'this run':>9s}   ({cfg.schedule} schedule: {epochs} epochs, "
          f"{total_steps:,d} steps)")
    for depth, paper in PAPER_ERROR.items():
        print(f"ResNet-{depth:<3d} {paper:6.2f}% {test_error[depth]:8.2f}%")
else:
    print("tiny mode: the CIFAR-10 comparison needs the full dataset and a GPU "
          "(run with CNNCOURSE_MODE=full); the paper's column is printed above")

# %% [markdown]
# ## A pretrained ResNet-50 on a real photo (full mode)
#
# `models.resnet50(weights="DEFAULT")` loads torchvision's current ImageNet weights for ResNet-50 into our model:
# `IMAGENET1K_V2`, from torchvision's newer training recipe (far more epochs and stronger augmentation than the
# paper's), not the paper's own training. The preprocessing comes with the weights:

# %%
weights = tvm.ResNet50_Weights.DEFAULT
photo = data.sample_image("china.jpg")
image = weights.transforms()(torch.from_numpy(photo).permute(2, 0, 1))  # H×W×3 uint8 -> 3×224×224 float
print(f"{weights}: top-1 {weights.meta['_metrics']['ImageNet-1K']['acc@1']}% on ImageNet, "
      f"recipe {weights.meta['recipe']}")
if cfg.full:
    pretrained = models.resnet50(weights=weights).eval().to(cfg.device)
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"], f"ResNet-50 ({weights.name}): top-5 classes")
    plt.show()
else:
    print(f"tiny mode never downloads weights: run with CNNCOURSE_MODE=full to see ResNet-50's top-5 classes "
          f"for this {tuple(photo.shape)} photo")

# %% [markdown]
# ## What full mode costs, and the results
#
# Full mode trains seven CIFAR-10 networks: plain-20, plain-56 and ResNet-20, -32, -44, -56 and -110. Their cost,
# estimated from each network's FLOPs (`profile.estimate_minutes`; the README states its assumptions):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    full_runs = [models.plain_cifar(20), models.plain_cifar(56)] + [models.resnet_cifar(d) for d in PAPER_ERROR]


def full_minutes(schedule: str) -> float:
    return sum(profile.estimate_minutes(net, (3, 32, 32), images=50_000, epochs=EPOCHS[schedule], batch_size=128,
                                        eval_images=10_000) for net in full_runs)


estimated = {"class": full_minutes("full"), "paper": full_minutes("paper")}
print(f"class schedule: {EPOCHS['full']} epochs per network, about {estimated['class']:.0f} GPU minutes for all "
      f"{len(full_runs)}; paper schedule: {EPOCHS['paper']} epochs, about {estimated['paper']:.0f} GPU minutes")

# %%
figures = {
    "parameters, ResNet-20 (CIFAR, option A)": profile.count_params(models.resnet20()),
    "parameters, ResNet-110 (CIFAR, option A)": profile.count_params(models.resnet110()),
    "parameters, ResNet-50": profile.count_params(ours),  # the model checked against torchvision above
}
references = {"parameters, ResNet-20 (CIFAR, option A)": "0.27M (paper)",
              "parameters, ResNet-110 (CIFAR, option A)": "1.7M (paper)",
              "parameters, ResNet-50": tvm.ResNet50_Weights.DEFAULT.meta["num_params"]}
figures.update({f"training error after the last epoch, {name} (%)": error for name, error in final.items()})
if cfg.full:
    for depth, paper in PAPER_ERROR.items():
        figures[f"test error, ResNet-{depth} (%)"] = test_error[depth]
        references[f"test error, ResNet-{depth} (%)"] = f"{paper}% (paper, 64k steps)"
_ = results.record(cfg, "10_resnet", figures, references=references, estimated_minutes=estimated)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/10_resnet.ipynb](solutions/10_resnet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/10_resnet.ipynb)
#
# 1. Train the tiny experiment's ResNet-56 for its first 4 epochs with the paper's learning rate 0.1 instead of 0.02
#    (same warm-up and schedule). What happens to its training loss after the warm-up, and to its training error?
#    Why might the paper have warmed ResNet-110 up at 0.01?
# 2. Build `models.resnet_cifar(20, shortcut="B")` and train it next to option A in the tiny experiment's setting.
#    How many parameters does the projection add, and where? Does it change the training curve?
# 3. Build ResNet-56 with `zero_init_residual=True`, so that every block starts as the identity. Which layers'
#    weights get a gradient at initialisation (`profile.gradient_norms`)? Does the network still learn?
# 4. Compute by hand the parameters of ResNet-20's third stage (n = 3 blocks, 32 → 64 channels, option A) and
#    check your answer with `profile.count_params(net.layer3)`.
# 5. Add option C — a projection on every block, not only where the shape changes — to ResNet-50 by subclassing
#    `ResNet`. How many parameters does it gain?
