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
# # 11 · Inception-v4 and Inception-ResNet: residual connections meet Inception
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/11_inception_v4.ipynb)
#
# By 2015 two families were level on ImageNet: Inception-v3 (chapter 09), a carefully hand-designed network of
# multi-branch modules, and ResNet (chapter 10), a plain stack made trainable at great depth by identity shortcuts.
# Szegedy, Ioffe, Vanhoucke and Alemi (2016) asked whether the two ideas add up. Their paper brought three networks:
#
# - **Inception-v4**, a cleaner and deeper pure Inception network;
# - **Inception-ResNet-v1** and **-v2**, in which every Inception module becomes the residual branch of a ResNet
#   block, at roughly the cost of Inception-v3 and Inception-v4 respectively.
#
# Their findings: the residual versions train much faster and end slightly better at the same cost, but wide
# residual networks only train when each residual is **scaled down** before it is added. This notebook builds the
# blocks, measures what scaling does, compares the three networks, and checks ours against timm's.

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
import timm
import torch
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, results
from cnncourse.models.inception_v4 import (
    InceptionA, InceptionResNetB, timm_to_inception_resnet_v2, timm_to_inception_v4,
)

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## One building block: branches side by side
#
# Every module in these networks is the same pattern: a few **branches** read the same input, each keeps or shrinks
# the grid in the same way, and their outputs are concatenated along the channels. The package writes that pattern
# once, as `Mixed`, and each block lists its branches. Here is Inception-v4's 35×35 block (the paper's figure 4):

# %%
print(inspect.getsource(InceptionA))

# %% [markdown]
# `conv(c_in, c_out, k)` is a convolution followed by BatchNorm and ReLU (chapter 08), with "same" padding so the
# grid is kept; the paper marks the exceptions "V" (valid, no padding), and so does the code (`valid=True`). The
# 1×n / n×1 pairs in the later blocks are chapter 09's factorised convolutions.
#
# ## The whole network, block by block
#
# We push an empty 299×299 image through the network on PyTorch's `meta` device (shapes only, nothing computed)
# and print every stage with its input and output shape and its parameters. Identical consecutive blocks are
# merged into one row.

# %%
def block_table(model: nn.Module, size: int = 299) -> None:
    """Print model.stages() as rows: name, block type, input → output (C×H×W), parameters (merging repeats)."""
    x = torch.empty(1, 3, size, size, device="meta")
    rows = []
    for name, block in model.stages():
        y = block(x)
        row = [name, type(block).__name__, tuple(x.shape[1:]), tuple(y.shape[1:]), profile.count_params(block), 1]
        last = rows[-1] if rows else None
        if last and last[1:5] == row[1:5] and last[1] != "BasicConv2d":
            last[0], last[5] = f"{last[0].split('–')[0]}–{name.rsplit('.', 1)[-1]}", last[5] + 1
        else:
            rows.append(row)
        x = y
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    print(f"{'stage':16s} {'block':20s} {'input → output':28s} {'parameters':>22s}")
    for name, kind, cin, cout, params, n in rows:
        count = f"{n} × {params:,d}" if n > 1 else f"{params:,d}"
        kind = kind + (f" ×{n}" if n > 1 else "")
        print(f"{name:16s} {kind:20s} {shape(cin) + ' → ' + shape(cout):28s} {count:>22s}")
    head = shape(tuple(x.shape[1:])) + " → " + str(model.fc.out_features)
    print(f"{'head':16s} {'pool, dropout, FC':20s} {head:28s} {profile.count_params(model.fc):>22,d}")
    print(f"total {profile.count_params(model):,d} parameters")


# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    v4 = models.inception_v4()
block_table(v4)
print(f"the 7 B blocks hold {profile.count_params(v4.blocks_b) / profile.count_params(v4):.0%} of the parameters")

# %% [markdown]
# Read the shapes down the middle column: the **stem** takes 299 → 149 → 147 → 73 → 71 → 35 with valid
# convolutions and poolings, and with each halving of the grid it widens the channels (a max pooling and a
# stride-2 convolution side by side in `mixed3a` and `mixed5a`, so neither alone decides what is kept). Then the
# three grid sizes each get their own block type: A on 35×35, B on 17×17 (1×7 and 7×1 factorised convolutions),
# C on 8×8. The **reductions** halve the grid while widening: Reduction-A concatenates a stride-2 3×3 convolution,
# a 1×1 → 3×3 → stride-2 3×3 branch and a max pooling that passes all input channels through. The last line
# shows where the capacity goes: the 17×17 stage.
#
# ## Inception-ResNet: the module becomes a residual branch
#
# In an Inception-ResNet block the branches' concatenation is no longer the output. It goes through a **linear**
# 1×1 convolution (no BatchNorm, no ReLU: `project`) that brings it back to the input's width, is multiplied by a
# small **scale**, and is added to the input; a ReLU follows the sum:
#
# $$y = \mathrm{ReLU}\big(x + s \cdot W_{1\times1}\,[\,\mathrm{branch}_0(x), \mathrm{branch}_1(x), \dots]\big)$$
#
# The branches are slimmer than in Inception-v4 (the shortcut carries the signal; the branch only has to add a
# correction), and BatchNorm sits only inside the branches: the paper left it off the sums to save memory.
# Google's released Inception-ResNet-v2 (whose weights timm and we load) differs from the paper's figure 15 in its
# stem (Inception-v3's, plus one Inception-A-like block to 320 channels), in its block counts (10/20/10 instead of
# 5/10/5) and in a last C block without scale or ReLU; the table shows it as built:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    v2 = models.inception_resnet_v2()
block_table(v2)
print("residual scales:", {stage: sorted({b.scale for b in getattr(v2, stage)})
                           for stage in ("blocks_a", "blocks_b", "blocks_c")})

# %% [markdown]
# ## Why scale the residuals?
#
# The paper reports that once the blocks had more than about 1000 filters, the residual networks "died" early in
# training: after some tens of thousands of steps the layer before the average pooling produced only zeros. A lower
# learning rate or extra BatchNorm did not help; multiplying each residual by a factor between 0.1 and 0.3 before
# the addition did. (The paper gives only that range; the 0.17 / 0.10 / 0.20 above are the values in Google's
# released code.)
#
# The mechanism is visible without training. Each block adds `s·r` to what it received, where `r` comes out of
# batch-normalised branches and so has roughly the same size in every block: nothing in the shortcut path ever
# shrinks the sum again. We stack **20 Inception-ResNet-B blocks** — 1088 channels, the width where the paper saw
# the trouble, and the number v2 has — feed them random input in training mode (BatchNorm uses batch statistics,
# as at the start of training) and measure the root mean square of the activations after every block, for scale
# 1 (no scaling) and the paper's range. The left panel uses PyTorch's default initialisation of the 1×1 projection;
# the right one a He-initialised projection (gain √2), a residual branch as strong as its input, which is closer
# to what training produces when the branches become useful.

# %%
def activation_rms(scale: float, strong_branch: bool, blocks: int = 20, seed: int = 0) -> list[float]:
    """RMS of the activations after each of ``blocks`` Inception-ResNet-B blocks (random input, batch statistics)."""
    torch.manual_seed(seed)
    stack = [InceptionResNetB(1088, scale) for _ in range(blocks)]
    if strong_branch:
        for block in stack:
            nn.init.kaiming_normal_(block.project.weight, nonlinearity="relu")
    x = torch.randn(4, 1088, 6, 6)  # a 6×6 grid is enough to measure magnitudes and keeps this quick
    rms = [x.square().mean().sqrt().item()]
    with torch.no_grad():
        for block in stack:
            x = block.train()(x)
            rms.append(x.square().mean().sqrt().item())
    return rms


scales = [1.0, 0.3, 0.2, 0.1]
curves = {(s, strong): activation_rms(s, strong) for strong in (False, True) for s in scales}
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, strong in zip(axes, (False, True)):
    for s in scales:
        ax.plot(curves[s, strong], marker="o", markersize=3, label=f"scale {s:g}" + (" (no scaling)" if s == 1 else ""))
    ax.set_xlabel("Inception-ResNet-B blocks passed")
    ax.set_title("default 1×1 projection" if not strong else "He-initialised 1×1 projection (stronger branch)")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("activation RMS (input = 1)")
axes[1].legend()
fig.suptitle("Activation magnitude through 20 residual blocks of 1088 channels, with and without residual scaling")
plt.tight_layout()
plt.show()
for strong in (False, True):
    growth = ", ".join(f"scale {s:g}: ×{curves[s, strong][-1] / curves[s, strong][1]:.2f}" for s in scales)
    print(f"{'He' if strong else 'default'} projection, growth from block 1 to block 20 — {growth}")

# %% [markdown]
# Where the residual is small, the first block takes the RMS down to about √½ ≈ 0.71: the ReLU after the sum
# zeroes the negative half of the random input. From then on the activations grow with every block, roughly
# linearly, because each block adds a fresh contribution of about the same size; the printed factors say by how
# much over the 20 blocks. The stronger the residual branch, the faster the growth without scaling, while a scale
# of 0.1–0.3 shrinks every block's contribution by that factor and keeps the activations nearly level. Training
# makes the branches stronger, and growing activations feed the next blocks and the classifier ever larger
# inputs — the scale is a cheap brake, and at inference it costs one multiplication per block.
# Later networks use the same trick under other names: "zero-γ" initialisation of each block's last BatchNorm
# (chapter 10's `zero_init_residual`), LayerScale in vision transformers.
#
# ## v1, v2, v4: what they cost
#
# Parameters and FLOPs (PyTorch's FLOP counter: one multiply-add = 2 FLOPs) of one 299×299 image, counted on the
# `meta` device. Inception-v3 (chapter 09) is the yardstick the paper compares with.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    nets = {"Inception-v3": models.inception_v3(aux_logits=False, init_weights=False),
            "Inception-ResNet-v1": models.inception_resnet_v1(),
            "Inception-v4": models.inception_v4(),
            "Inception-ResNet-v2": models.inception_resnet_v2()}
cost = {name: (profile.count_params(net), profile.count_flops(net, (1, 3, 299, 299))) for name, net in nets.items()}
print(f"{'network':20s} {'parameters':>12s} {'GFLOPs':>8s}")
for name, (params, flops) in cost.items():
    print(f"{name:20s} {params:12,d} {flops / 1e9:8.2f}")
ratio = lambda a, b: cost[a][1] / cost[b][1]  # noqa: E731
print(f"FLOPs: Inception-ResNet-v1 / Inception-v3 = {ratio('Inception-ResNet-v1', 'Inception-v3'):.2f}, "
      f"Inception-ResNet-v2 / Inception-v4 = {ratio('Inception-ResNet-v2', 'Inception-v4'):.2f}")
for name in ("Inception-v4", "Inception-ResNet-v2"):
    net = nets[name]
    on_8x8 = sum(profile.count_params(m) for m in (net.blocks_c, net.conv7b) if m is not None)
    print(f"{name}: {on_8x8 / 1e6:.1f} M parameters in the blocks that run on the 8×8 grid")

# %% [markdown]
# The pairs the paper matched are close in compute: v1 with Inception-v3, v2 with Inception-v4 (the printed ratios),
# which is what made its comparison fair — same cost, with and without residual connections. v2 has more
# parameters than v4 for similar FLOPs because many of them sit in its 2080-channel C blocks on the 8×8 grid (last
# two lines), where each weight is used only 64 times per image, against 289 times on the 17×17 grid.
#
# ## Same function as timm's models
#
# timm ships Inception-v4 and Inception-ResNet-v2 with Google's trained weights. Its module names differ from ours
# (`features.0` … `features.21` for v4; `repeat_1.3.conv2d` for v2), so `timm_to_inception_v4` and
# `timm_to_inception_resnet_v2` rename its state dict; a few examples:

# %%
# NBVAL_CHECK_OUTPUT
examples = {
    timm_to_inception_v4: ["features.3.conv.conv.weight", "features.19.branch1_1a.bn.running_var", "last_linear.bias"],
    timm_to_inception_resnet_v2: ["mixed_5b.branch1.1.conv.weight", "repeat_1.3.conv2d.weight", "block8.conv2d.bias"],
}
for key_map, keys in examples.items():
    for key in keys:
        print(f"{key:40s} -> {next(iter(key_map({key: torch.empty(0)})))}")

# %% [markdown]
# Then `models.check_twin` loads timm's randomly initialised model's state dict into ours (strictly: every key
# must match) and compares the two models' outputs in eval mode. One forward pass of timm's model in training mode
# first moves its BatchNorm running statistics away from their initial 0 and 1, so that eval mode compares them too.
# Input 107×107 keeps this quick (any size from the networks' minimum, 75, works).

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 3, 107, 107, generator=torch.Generator().manual_seed(0))
timm_params = {}
for name, key_map in [("inception_v4", timm_to_inception_v4), ("inception_resnet_v2", timm_to_inception_resnet_v2)]:
    torch.manual_seed(0)
    reference = timm.create_model(name, pretrained=False)
    with torch.no_grad():
        reference.train()(torch.randn(4, 3, 107, 107))
    with torch.device("meta"):
        ours = getattr(models, name)()
    report = models.check_twin(ours, reference, x, key_map=key_map, assign=True)
    timm_params[name] = profile.count_params(reference)
    print(f"{name}: {profile.count_params(ours):,d} parameters (timm: {timm_params[name]:,d})")
    print(report)

# %% [markdown]
# ## Use it: Google's trained weights
#
# `models.inception_v4(weights="DEFAULT")` asks timm for its pretrained weights (downloaded once from the Hugging
# Face hub into its cache) and loads them through the key map. These weights expect pixels scaled to [-1, 1]
# (mean 0.5 and standard deviation 0.5 per channel), not torchvision's ImageNet mean and standard deviation, and a
# 299×299 centre crop of the image resized to 342 pixels (timm's crop fraction 0.875). Tiny mode never downloads
# weights, so this runs in full mode only.

# %%
if cfg.full:
    from torchvision.models import Inception_V3_Weights
    from torchvision.transforms import v2 as T

    pretrained = models.inception_v4(weights="DEFAULT").eval().to(cfg.device)
    preprocess = T.Compose([T.Resize(342, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                            T.CenterCrop(299), T.ToDtype(torch.float32, scale=True),
                            T.Normalize([0.5] * 3, [0.5] * 3)])
    photo = data.sample_image("china.jpg")
    image = preprocess(torch.from_numpy(photo).permute(2, 0, 1))
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    categories = Inception_V3_Weights.DEFAULT.meta["categories"]  # ImageNet's 1000 classes, in the usual order
    fig = plot.plot_top_classes(photo, probs, categories,
                                "Inception-v4 (Google's weights via timm): top-5 classes")
    plt.show()
else:
    print(f"tiny mode: prediction with Google's pretrained Inception-v4 skipped (it needs a "
          f"{4 * profile.count_params(v4) / 1e6:.0f} MB download from the Hugging Face hub); "
          f"run with CNNCOURSE_MODE=full to see the top-5 classes")

# %% [markdown]
# ## What full mode costs, and the results
#
# This chapter trains no network, in either mode: the measurements above are the same in tiny and full mode, and
# full mode adds only the prediction with Google's weights (a one-time download). The GPU time of its training runs,
# which the other chapters estimate with `profile.estimate_minutes`, is zero for both schedules:

# %%
# NBVAL_CHECK_OUTPUT
estimated = {"class": 0.0, "paper": 0.0}  # GPU minutes of full mode's training runs: there are none
print(f"full mode trains nothing here: {estimated['class']:.0f} GPU minutes (class schedule), "
      f"{estimated['paper']:.0f} (paper schedule); it downloads Inception-v4's weights once "
      f"({4 * profile.count_params(v4) / 1e6:.0f} MB)")

# %%
he = {s: curves[s, True] for s in (1.0, 0.2)}  # the He-initialised projection
figures = {
    "parameters, Inception-v4": cost["Inception-v4"][0],
    "parameters, Inception-ResNet-v1": cost["Inception-ResNet-v1"][0],
    "parameters, Inception-ResNet-v2": cost["Inception-ResNet-v2"][0],
    "GFLOPs, Inception-v4 (299 px)": cost["Inception-v4"][1] / 1e9,
    "GFLOPs, Inception-ResNet-v2 (299 px)": cost["Inception-ResNet-v2"][1] / 1e9,
    "activation growth from B block 1 to 20, He projection, scale 1": he[1.0][-1] / he[1.0][1],
    "activation growth from B block 1 to 20, He projection, scale 0.2": he[0.2][-1] / he[0.2][1],
}
references = {"parameters, Inception-v4": f"{timm_params['inception_v4']:,d} (timm)",
              "parameters, Inception-ResNet-v2": f"{timm_params['inception_resnet_v2']:,d} (timm)"}
if cfg.full:
    best = int(probs.argmax())
    figures["Inception-v4's top class for china.jpg"] = f"{categories[best]} ({100 * probs[best]:.0f}%)"
_ = results.record(cfg, "11_inception_v4", figures, references=references, estimated_minutes=estimated)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/11_inception_v4.ipynb](solutions/11_inception_v4.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/11_inception_v4.ipynb)
#
# 1. Print `block_table(models.inception_resnet_v1())`. Where do its stem and blocks differ from v2's, and which
#    stage holds most of its parameters?
# 2. Repeat the scaling experiment with `InceptionResNetA(320, scale)` blocks (320 channels, fewer than the 1000
#    where the paper saw trouble). Does the growth without scaling depend on the width?
# 3. Build `models.inception_resnet_v2(scales=(1.0, 1.0, 1.0))`, load timm's weights into it (full mode) and
#    compare its predictions on the photo with the scaled network's. What does that tell you about whether the
#    scale can be changed after training?
# 4. In `activation_rms`, replace `block.train()` by `block.eval()` (BatchNorm then uses its initial running
#    statistics, mean 0 and variance 1). How do the curves change, and why?
# 5. Inception-v4 and Inception-ResNet-v2 both accept 75×75 inputs. Which layers decide that minimum? (Hint:
#    count the valid convolutions and poolings in the block table.)
