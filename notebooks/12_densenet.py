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
# # 12 · DenseNet: dense connectivity, growth rate, compression, memory
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/12_densenet.ipynb)
#
# A ResNet block *adds* its output to its input (chapter 10), so after a few blocks a feature computed early is
# mixed into a sum and no later layer can read it on its own. Huang, Liu, van der Maaten and Weinberger (2017) took
# the shortcut idea to its end: inside a **dense block** every layer receives the feature maps of *all* the layers
# before it, **concatenated**, and adds only a few new maps of its own. Features are reused instead of recomputed,
# so each layer can be narrow, and the paper matches ResNet's accuracy with far fewer parameters. The price is
# memory: the concatenations grow with every layer. This notebook builds a dense block, counts channels and
# parameters, trains DenseNet-BC against a ResNet of similar size, and measures the memory and what
# `memory_efficient=True` saves.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import copy
import warnings
from collections import OrderedDict

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, plot, profile, results, train
from cnncourse.models.densenet import DenseBlock, DenseNet, densenet_cifar

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Dense connectivity in a few lines
#
# Layer ℓ of a dense block computes $x_\ell = H_\ell([x_0, x_1, \dots, x_{\ell-1}])$, where the brackets are a
# concatenation along the channels and $x_0$ is the block's input. Every $H_\ell$ outputs the same small number of
# channels $k$, the **growth rate**. In DenseNet-BC, $H_\ell$ is BatchNorm → ReLU → 1×1 convolution to $4k$
# channels → BatchNorm → ReLU → 3×3 convolution to $k$ channels (normalisation and activation *before* each
# convolution, as in the pre-activation ResNet). Written from scratch, a block is a list of such layers and a loop
# that keeps every output:

# %%
class ScratchDenseBlock(nn.ModuleDict):
    """``num_layers`` layers; layer l reads k0 + k·(l-1) channels and adds k; returns all maps concatenated."""

    def __init__(self, k0: int, k: int, num_layers: int):
        layers = {}
        for l in range(1, num_layers + 1):
            c = k0 + k * (l - 1)  # the channels layer l reads
            layers[f"denselayer{l}"] = nn.Sequential(OrderedDict(
                norm1=nn.BatchNorm2d(c), relu1=nn.ReLU(), conv1=nn.Conv2d(c, 4 * k, 1, bias=False),
                norm2=nn.BatchNorm2d(4 * k), relu2=nn.ReLU(), conv2=nn.Conv2d(4 * k, k, 3, padding=1, bias=False),
            ))
        super().__init__(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, dim=1)))  # x_l = H_l([x_0, ..., x_{l-1}])
        return torch.cat(features, dim=1)


# %% [markdown]
# The package's `DenseBlock` (what `models.densenet121` and the others are built from) names its layers the same
# way, so it takes our block's weights as they are. `models.check_twin` loads them and compares the outputs, in
# eval mode (BatchNorm's running statistics, after one training-mode pass has moved them) and in training mode
# (batch statistics):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
scratch = ScratchDenseBlock(k0=24, k=12, num_layers=6)
package = DenseBlock(6, in_channels=24, growth_rate=12)
x = torch.randn(4, 24, 16, 16)
with torch.no_grad():
    scratch.train()(torch.randn(8, 24, 16, 16))  # non-trivial running statistics
print(models.check_twin(package, scratch, x))
print(models.check_twin(package, scratch, x, train=True))
print(f"output channels: 24 + 6·12 = {package(x).shape[1]}")

# %% [markdown]
# ## Channel arithmetic
#
# Layer ℓ reads $k_0 + k(\ell-1)$ channels, so the input of the 1×1 convolution grows linearly through the block,
# while everything after it has a fixed width ($4k$ into the 3×3 convolution, $k$ out). Here is DenseNet-121's
# first block ($k_0 = 64$ from the stem, $k = 32$, six layers), read from the model itself and compared with the
# formula:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    d121 = models.densenet121()
k0, k = 64, 32
print(f"{'layer':>5s} {'reads (model)':>14s} {'k0 + k(l-1)':>12s} {'1×1 out':>8s} {'3×3 out':>8s}")
for l, layer in enumerate(d121.features.denseblock1.values(), start=1):
    print(f"{l:5d} {layer.conv1.in_channels:14d} {k0 + k * (l - 1):12d} {layer.conv1.out_channels:8d} "
          f"{layer.conv2.out_channels:8d}")
for i in range(1, 5):
    block = getattr(d121.features, f"denseblock{i}")
    transition = getattr(d121.features, f"transition{i}", None)
    after = f", transition{i} keeps {transition.conv.out_channels}" if transition is not None else ""
    print(f"denseblock{i}: {len(block):2d} layers, {block.denselayer1.conv1.in_channels:4d} channels in, "
          f"{block.out_channels:4d} out{after}")

# %% [markdown]
# Each block ends with $k_0 + L\cdot k$ channels, and the **transition** after it (BatchNorm → ReLU → 1×1
# convolution → 2×2 average pooling) halves both the grid and — with the **compression** factor θ = 0.5 — the
# channels, so the next block starts at ⌊θ·m⌋. Without compression the channel count would only ever grow from
# block to block.
#
# ## Bottleneck and compression: where the parameters go
#
# The paper's CIFAR networks make the effect of both ideas measurable. The plain DenseNet's $H_\ell$ is a single
# BN-ReLU-3×3 convolution reading all $k_0 + k(\ell-1)$ channels. The **bottleneck** (B) puts a 1×1 convolution to
# $4k$ channels in front, so the expensive 3×3 convolution always reads $4k$; **compression** (C) halves the
# channels at each transition. Below, four networks of 100 layers with $k = 12$, differing only in B and C (a
# bottleneck layer has two convolutions, so B networks have half as many layers per block), with parameters and
# FLOPs of one 32×32 image:

# %%
# NBVAL_CHECK_OUTPUT
variants = {"DenseNet": (False, 1.0), "DenseNet-B": (True, 1.0), "DenseNet-C": (False, 0.5),
            "DenseNet-BC": (True, 0.5)}
print(f"{'L=100, k=12':12s} {'layers/block':>12s} {'parameters':>11s} {'MFLOPs':>8s}")
cost = {}
for name, (bottleneck, theta) in variants.items():
    with torch.device("meta"):
        net = densenet_cifar(100, 12, bottleneck=bottleneck, compression=theta)
    cost[name] = (profile.count_params(net), profile.count_flops(net, (1, 3, 32, 32)))
    print(f"{name:12s} {len(net.features.denseblock1):12d} {cost[name][0]:11,d} {cost[name][1] / 1e6:8.0f}")
print(f"DenseNet-BC has {cost['DenseNet-BC'][0] / cost['DenseNet'][0]:.0%} of the plain DenseNet's parameters "
      f"and needs {cost['DenseNet-BC'][1] / cost['DenseNet'][1]:.0%} of its FLOPs")

# %% [markdown]
# Each idea alone cuts the parameters substantially, the bottleneck most, and together they shrink the network
# by the factor in the last line. The paper's table 2 lists the CIFAR networks with their parameter
# counts and C10+ test errors (CIFAR-10 with the standard augmentation); the counts of our builders agree:

# %%
# NBVAL_CHECK_OUTPUT
paper = [  # (depth, k, bottleneck and compression, parameters in the paper, C10+ error % in the paper)
    (40, 12, False, "1.0M", 5.24), (100, 12, False, "7.0M", 4.10), (100, 24, False, "27.2M", 3.74),
    (100, 12, True, "0.8M", 4.51), (250, 24, True, "15.3M", 3.62), (190, 40, True, "25.6M", 3.46),
]
print(f"{'network':26s} {'ours':>11s} {'paper':>7s} {'C10+ error (paper)':>19s}")
for depth, k, bc, params, error in paper:
    with torch.device("meta"):
        net = densenet_cifar(depth, k, bottleneck=bc, compression=0.5 if bc else 1.0)
    name = f"DenseNet{'-BC' if bc else ''} (L={depth}, k={k})"
    print(f"{name:26s} {profile.count_params(net):11,d} {params:>7s} {error:18.2f}%")

# %% [markdown]
# ## The ImageNet family
#
# For ImageNet the paper uses DenseNet-BC with four blocks, a 7×7 stride-2 stem and $k = 32$ (48 for DenseNet-161).
# The four networks differ in how many layers the last two blocks have. Our builders are state-dict compatible with
# torchvision's; parameters and multiply-adds of one 224×224 image next to torchvision's own metadata:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'network':12s} {'blocks':>14s} {'k':>3s} {'parameters':>11s} {'torchvision':>11s} {'GMACs':>6s} "
      f"{'torchvision':>11s} {'top-1':>6s}")
for name in ("densenet121", "densenet161", "densenet169", "densenet201"):
    with torch.device("meta"):
        net = getattr(models, name)()
    meta = tvm.get_model_weights(name).DEFAULT.meta
    blocks = "-".join(str(len(getattr(net.features, f"denseblock{i}"))) for i in range(1, 5))
    k = net.features.denseblock1.denselayer1.conv2.out_channels
    print(f"{name:12s} {blocks:>14s} {k:3d} {profile.count_params(net):11,d} {meta['num_params']:11,d} "
          f"{profile.count_macs(net, (1, 3, 224, 224)) / 1e9:6.2f} {meta['_ops']:11.2f} "
          f"{meta['_metrics']['ImageNet-1K']['acc@1']:5.1f}%")
resnet50 = tvm.ResNet50_Weights.IMAGENET1K_V1.meta  # its original weights, trained with a similarly plain recipe
with torch.device("meta"):
    ours50 = models.resnet50()
print(f"{'resnet50':12s} {'(chapter 10)':>14s} {'':3s} {profile.count_params(ours50):11,d} {resnet50['num_params']:11,d} "
      f"{profile.count_macs(ours50, (1, 3, 224, 224)) / 1e9:6.2f} {resnet50['_ops']:11.2f} "
      f"{resnet50['_metrics']['ImageNet-1K']['acc@1']:5.1f}%")
dense121 = tvm.DenseNet121_Weights.IMAGENET1K_V1.meta
top1 = lambda meta: meta["_metrics"]["ImageNet-1K"]["acc@1"]  # noqa: E731
print(f"DenseNet-121 against ResNet-50: {dense121['num_params'] / resnet50['num_params']:.0%} of the parameters, "
      f"{dense121['_ops'] / resnet50['_ops']:.0%} of the multiply-adds, "
      f"{top1(dense121) - top1(resnet50):+.1f} points top-1")
torch.manual_seed(0)
reference = tvm.densenet121()
with torch.no_grad():
    reference.train()(torch.randn(4, 3, 32, 32))  # move the BatchNorm running statistics away from 0 and 1
with torch.device("meta"):
    ours = models.densenet121()
print(models.check_twin(ours, reference, torch.randn(2, 3, 32, 32), assign=True))

# %% [markdown]
# DenseNet-121 comes close to ResNet-50's top-1 accuracy (both from torchvision's metadata, the ResNet with its
# original weights, trained with a similar plain recipe) with a fraction of its parameters and multiply-adds (the
# line above the twin check), and DenseNet-161 and -201 pass it. torchvision's weight files are older than its
# current code: they name the layers `norm.1`, `conv.2`… (dots, which PyTorch no longer allows in module names).
# `models.densenet121(weights=...)` renames them while loading, with `rename_legacy_keys`, exactly as torchvision
# does.
#
# ## DenseNet-BC against ResNet at a similar size
#
# The paper's headline comparison: DenseNet-BC-100 ($k = 12$) against the CIFAR ResNets of chapter 10, with a
# similar number of parameters:

# %%
# NBVAL_CHECK_OUTPUT
pair = {"DenseNet-BC-100-12": models.densenet_bc_100_12(), "ResNet-56": models.resnet56()}
for name, net in pair.items():
    print(f"{name:18s} {profile.count_params(net):9,d} parameters, "
          f"{profile.count_flops(net, (1, 3, 32, 32)) / 1e6:6.1f} MFLOPs per 32×32 image")

# %% [markdown]
# In the papers, DenseNet-BC-100 reaches 4.51% test error on C10+ (CIFAR-10 with the standard augmentation) after
# 300 epochs, and ResNet-56 6.97% (He et al.'s table 6, with their own schedule). We train both with DenseNet's
# recipe: SGD with Nesterov momentum 0.9 and weight decay 1e-4 on every parameter, batch 64, learning rate 0.1
# divided by 10 after 50% and 75% of the epochs (rounded down to whole epochs). Full mode trains exactly these two
# networks on CIFAR-10 with the standard augmentation (random crops of the image padded by 4 pixels, horizontal
# flips) for 25 epochs in class (`EPOCHS` below); `CNNCOURSE_SCHEDULE=paper` runs the paper's 300, which makes DenseNet-BC-100's run
# the paper's experiment (ResNet-56 gets DenseNet's schedule there too, not He et al.'s). Tiny mode must fit in
# seconds on a CPU, where DenseNet's many small layers are slow, so it trains smaller relatives of similar size to
# each other — DenseNet-BC-22 ($k = 12$, three bottleneck layers per block) and ResNet-20 with 8 instead of 16
# channels in its first stage — on the handwritten digits at their native 8×8 resolution (the tiny-mode digits are
# 8×8 scans enlarged to 32×32, so nothing is lost), for 4 epochs with the same recipe.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
if cfg.tiny:  # back to the scans' own 8×8 pixels: 16 times fewer than 32×32, the same information
    train_set, test_set = (TensorDataset(F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1]) for ds in (train_set, test_set))
channels = train_set[0][0].shape[0]
if cfg.full:
    builders = {"DenseNet-BC-100-12": lambda: models.densenet_bc_100_12(10, channels),
                "ResNet-56": lambda: models.resnet56(10, channels)}
else:
    builders = {"DenseNet-BC-22-12": lambda: densenet_cifar(22, 12, in_channels=channels),
                "ResNet-20 (width 8)": lambda: models.resnet_cifar(20, width=8, in_channels=channels)}
EPOCHS = {"tiny": 4, "full": 25, "paper": 300}  # paper: Huang et al.'s 300 epochs on CIFAR-10
epochs = cfg.pick(**EPOCHS)
milestones = [epochs // 2, 3 * epochs // 4]  # ÷10 after 50% and 75% of the epochs
print(f"{'tiny' if cfg.tiny else cfg.schedule + ' schedule'}: {epochs} epochs of "
      f"{'the 8×8 digits' if cfg.tiny else 'CIFAR-10'} ({len(train_set):,d} training, {len(test_set):,d} test images), "
      f"learning rate 0.1, ÷10 after epochs {milestones}")
histories = {}
for name, build in builders.items():
    torch.manual_seed(0)
    net = build()
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=64, seed=0, device=cfg.device)
    steps_per_epoch = len(train_loader)
    schedule = train.lr_schedule("step", epochs * steps_per_epoch, milestones=[m * steps_per_epoch for m in milestones])
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    print(f"{name}: {profile.count_params(net):,d} parameters")
    histories[name] = train.fit(
        net, train_loader, epochs, val_loader=test_loader, optimizer=optimizer, schedule=schedule,
        device=cfg.device, checkpoint=cfg.checkpoint(f"12_densenet-{'densenet' if 'Dense' in name else 'resnet'}"),
    )
fig = plot.plot_history(histories, title=f"DenseNet-BC vs ResNet of similar size, {epochs} epochs, same recipe")
plt.show()
for name, h in histories.items():
    seconds = sum(h["seconds"]) / len(h["seconds"])
    print(f"{name:20s} test error {100 * (1 - h.last['val_acc']):.1f}%, {seconds:.1f} s per epoch on {cfg.device}")
cfg.expect(all(h.last["val_acc"] > 0.85 for h in histories.values()), "both networks should learn (chance is 10%)")

# %% [markdown]
# Compare the curves rather than the last digit: a short run (tiny mode's 4 epochs, the class schedule's 25) says
# more about how fast each network learns than about where it would end, and the tiny-mode test set has only 450
# digits. The paper's claim is about accuracy *per parameter* after its full 300 epochs (full mode's paper schedule;
# the results at the end put our errors next to the papers'). The time per epoch printed above shows the other side
# of the trade: DenseNet's many narrow layers and concatenations make it slower per parameter than a ResNet,
# especially on a CPU.
#
# ## Memory: why the concatenations are expensive, and how to avoid keeping them
#
# For the backward pass, autograd keeps the inputs of the operations it will differentiate. In layer ℓ of a dense
# block, the concatenation (BatchNorm's input) and the BatchNorm output (which the in-place ReLU overwrites with its
# own output, the 1×1 convolution's input) each have $k_0 + k(\ell-1)$ channels, and both are kept: summed over the
# L layers of a block that is **quadratic** in L, although the block only *produces* $k_0 + Lk$ channels.
# `memory_efficient=True` (from Pleiss et al., 2017) keeps, for the part of each layer up to its 1×1 convolution,
# only that part's inputs — the $k$-channel maps that exist anyway — and recomputes concatenation, BatchNorm, ReLU
# and 1×1 convolution during the backward pass (`torch.utils.checkpoint`). We measure the bytes autograd keeps
# after the forward pass (`profile.saved_activation_bytes`) for one dense block ($k_0 = 24$, $k = 12$, a batch of 4
# images of 32×32) as it gets deeper, on the CPU so the numbers are the same everywhere:

# %%
# NBVAL_CHECK_OUTPUT
depths = [4, 8, 16, 24, 32]
kept = {False: [], True: []}
x = torch.randn(4, 24, 32, 32)
for L in depths:
    for efficient in (False, True):
        torch.manual_seed(0)
        block = DenseBlock(L, 24, growth_rate=12, memory_efficient=efficient).train()
        kept[efficient].append(profile.saved_activation_bytes(block, x) / 1e6)
print(f"{'layers':>6s} {'naive MB':>9s} {'efficient MB':>13s} {'ratio':>6s}")
for L, naive, efficient in zip(depths, kept[False], kept[True]):
    print(f"{L:6d} {naive:9.1f} {efficient:13.1f} {naive / efficient:6.1f}")
i, j = depths.index(16), depths.index(32)
print(f"from 16 to 32 layers: naive ×{kept[False][j] / kept[False][i]:.1f}, "
      f"memory-efficient ×{kept[True][j] / kept[True][i]:.1f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(depths, kept[False], marker="o", label="naive: concatenation and BN/ReLU output kept")
ax.plot(depths, kept[True], marker="o", label="memory_efficient=True: recomputed in backward")
ax.set_xlabel("layers in the dense block (L)")
ax.set_ylabel("activation memory kept for backward (MB)")
ax.set_title("One dense block (k0=24, k=12), batch of 4 × 32×32")
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
plt.tight_layout()
plt.show()

# %% [markdown]
# The naive curve bends upwards — doubling the depth from 16 to 32 layers more than triples its memory, as the
# quadratic term takes over — while the memory-efficient one grows linearly and doubles. Now the whole
# DenseNet-BC-100 for one training step: the activation memory kept after the forward pass (CPU, batch 8, the same
# on every machine), and then — on this notebook's device — the peak memory and the time of a full forward +
# backward step, which tells what the recomputation costs.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
naive_net = models.densenet_bc_100_12().train()
efficient_net = copy.deepcopy(naive_net)
for layer in efficient_net.modules():
    if hasattr(layer, "memory_efficient"):
        layer.memory_efficient = True
x = torch.randn(8, 3, 32, 32)
saved = {name: profile.saved_activation_bytes(net, x) / 1e6
         for name, net in (("naive", naive_net), ("memory_efficient", efficient_net))}
print(f"DenseNet-BC-100-12, batch of 8: activations kept for backward: naive {saved['naive']:.1f} MB, "
      f"memory_efficient {saved['memory_efficient']:.1f} MB ({saved['naive'] / saved['memory_efficient']:.1f}× less)")

# %%
batch = cfg.pick(tiny=4, full=64)
x = torch.randn(batch, 3, 32, 32, device=cfg.device)
nets = {"naive": naive_net.to(cfg.device), "memory_efficient": efficient_net.to(cfg.device)}
steps = {name: (lambda net=net: net(x).sum().backward()) for name, net in nets.items()}  # one training step
peak = {name: profile.peak_memory(step, cfg.device) / 1e6 for name, step in steps.items()}
seconds = {name: profile.time_call(step, min_run_time=cfg.pick(tiny=0.2, full=2.0)) for name, step in steps.items()}
for name in nets:
    nets[name].zero_grad(set_to_none=True)
    print(f"{name:17s} peak memory {peak[name]:7.1f} MB, {1e3 * seconds[name]:7.1f} ms per step "
          f"(batch {batch}, {cfg.device})")
print(f"memory_efficient: {peak['naive'] / peak['memory_efficient']:.1f}× less peak memory for "
      f"{seconds['memory_efficient'] / seconds['naive']:.2f}× the time per step")

# %% [markdown]
# The saving is paid for in arithmetic: every layer's concatenation, BatchNorm, ReLU and 1×1 convolution run twice.
# How much time that costs depends on the machine (pytorch/vision#797, which added the option to torchvision,
# reported about 1.4× on a GPU): the naive step also pays for allocating and filling its much larger buffers, which
# hides part of the cost where memory is slow. The memory ratio hardly depends on the machine. What the saving buys
# is a larger batch or a deeper network on the same GPU.
#
# One more detail, found while testing this chapter: the recomputation runs the first BatchNorm of every layer a
# second time, in training mode. In torchvision's implementation that second run also updates its running
# statistics, so a memory-efficient training step counts every batch twice there (reported in
# gpleiss/efficient_densenet_pytorch#73). The package's `DenseLayer` recomputes the same output without touching the
# statistics. Counting the batches BatchNorm has seen after one training step:

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 3, 32, 32)
small = dict(growth_rate=12, block_config=(2, 2, 2, 2), num_init_features=24)  # a small DenseNet is enough
for name, net in [("ours, naive", DenseNet(**small)),
                  ("ours, memory_efficient", DenseNet(**small, memory_efficient=True)),
                  ("torchvision, memory_efficient", tvm.DenseNet(**small, memory_efficient=True))]:
    net.train()(x).sum().backward()
    seen = int(net.features.denseblock1.denselayer1.norm1.num_batches_tracked)
    print(f"{name:30s} batches counted by the first BatchNorm after one step: {seen}")

# %% [markdown]
# ## Use it: torchvision's ImageNet weights
#
# `models.densenet121(weights="DEFAULT")` loads torchvision's weights (renaming the legacy keys); the file is
# downloaded once into torch's hub cache, so this runs in full mode only.

# %%
if cfg.full:
    weights = tvm.DenseNet121_Weights.DEFAULT
    pretrained = models.densenet121(weights=weights).eval().to(cfg.device)
    photo = data.sample_image("china.jpg")
    image = weights.transforms()(torch.from_numpy(photo).permute(2, 0, 1))
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                                "DenseNet-121 (torchvision ImageNet weights): top-5 classes")
    plt.show()
else:
    print(f"tiny mode: prediction with DenseNet-121's ImageNet weights skipped (it needs a "
          f"{tvm.DenseNet121_Weights.DEFAULT.meta['_file_size']:.0f} MB download); run with CNNCOURSE_MODE=full")

# %% [markdown]
# ## What full mode costs, and the results
#
# Full mode trains the two CIFAR-10 networks above, DenseNet-BC-100 and ResNet-56, with batch 64. Their cost,
# estimated from each network's FLOPs (`profile.estimate_minutes`; the README states its assumptions), for both
# schedules — plus the one-time downloads of CIFAR-10 and DenseNet-121's weights. Take DenseNet's figure as a lower
# bound: the estimate counts arithmetic and a fixed minimum time per optimizer step, but a small network's step on a
# GPU takes longer the more separate operations it launches, and DenseNet-BC-100 runs almost twice as many layers
# per forward pass as ResNet-56 (counted below), plus a concatenation in every layer.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    full_runs = [models.densenet_bc_100_12(), models.resnet56()]
estimated = {
    schedule: sum(profile.estimate_minutes(net, (3, 32, 32), images=50_000, epochs=EPOCHS[key], batch_size=64,
                                           eval_images=10_000) for net in full_runs)
    for schedule, key in (("class", "full"), ("paper", "paper"))
}
for schedule, key in (("class", "full"), ("paper", "paper")):
    print(f"{schedule} schedule: {EPOCHS[key]} epochs per network, about {estimated[schedule]:.0f} GPU minutes "
          f"for both")
for name, net in zip(("DenseNet-BC-100-12", "ResNet-56"), full_runs):  # a row per call of a layer without sub-modules
    print(f"{name}: {len(profile.layer_table(net, (1, 3, 32, 32)))} layer calls in one forward pass")

# %%
errors = {name: 100 * (1 - h.last["val_acc"]) for name, h in histories.items()}
figures = {
    "parameters, DenseNet-BC-100-12": profile.count_params(pair["DenseNet-BC-100-12"]),
    "parameters, ResNet-56": profile.count_params(pair["ResNet-56"]),
    "parameters, DenseNet-121": profile.count_params(ours),  # the model checked against torchvision above
    "activation memory kept, DenseNet-BC-100, batch 8, naive (MB)": saved["naive"],
    "activation memory kept, DenseNet-BC-100, batch 8, memory_efficient (MB)": saved["memory_efficient"],
}
figures.update({f"test error, {name} (%)": error for name, error in errors.items()})
references = {"parameters, DenseNet-BC-100-12": "0.8M (paper)", "parameters, ResNet-56": "0.85M (He et al.)",
              "parameters, DenseNet-121": tvm.DenseNet121_Weights.DEFAULT.meta["num_params"]}
if cfg.full:
    references["test error, DenseNet-BC-100-12 (%)"] = "4.51% (paper, C10+, 300 epochs)"
    references["test error, ResNet-56 (%)"] = "6.97% (He et al., Table 6)"
_ = results.record(cfg, "12_densenet", figures, references=references, estimated_minutes=estimated)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/12_densenet.ipynb](solutions/12_densenet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/12_densenet.ipynb)
#
# 1. How many channels does the last layer of DenseNet-201's third block read? Work it out with
#    $k_0 + k(\ell-1)$ (what is $k_0$ there?) and check it against the model.
# 2. Build `densenet_cifar(100, 12, bottleneck=True, compression=0.5, num_init_features=16)`. How much of
#    DenseNet-BC's parameter count is due to its wider first convolution (2k channels instead of 16)?
# 3. Extend the memory experiment to L = 48 and 64 layers. Fit a parabola to the naive curve: which coefficient
#    does the formula for the kept channels predict?
# 4. Train the tiny-mode pair for more epochs and with three seeds each. Does the ranking of the two networks at
#    the end stay the same?
# 5. `memory_efficient=True` recomputes only the part before the 3×3 convolution. Why is checkpointing the 3×3
#    convolution as well not worth it? (Hint: how many channels do its input and output have?)
