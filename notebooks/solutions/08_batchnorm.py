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
# # Solutions · 08 Batch normalisation from scratch
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/08_batchnorm.ipynb)
#
# Worked solutions to the exercises of [chapter 08](../08_batchnorm.ipynb). Try each exercise before reading its
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
import re
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset

import cnncourse
from cnncourse import data, plot, profile, scratch, train

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# The chapter's network and data, shared by the exercises: LeNet-5 with a norm layer after every hidden
# convolution and linear layer (`norm` builds it from the number of channels; `after=True` puts it after the
# activation instead of before), and the training set cut to a multiple of 32 images. Tiny mode trains on the
# handwritten digits for the chapter's 4 epochs, full mode on CIFAR-10 for its 10 (exercise 2, which asks about four
# epochs, runs four in both modes).

# %%
def lenet(in_channels: int, norm: Callable[[int], nn.Module] | None = scratch.BatchNorm,
          activation: type[nn.Module] = nn.ReLU, after: bool = False, norm_linear: bool = True) -> nn.Sequential:
    """The chapter's LeNet-5; ``norm=None`` for none, ``norm_linear=False`` to normalise the convolutions only."""
    def block(channels: int, linear: bool = False) -> list[nn.Module]:
        layer = norm(channels) if norm is not None and (norm_linear or not linear) else nn.Identity()
        return [activation(), layer] if after else [layer, activation()]

    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), *block(6), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), *block(16), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), *block(120, linear=True),
        nn.Linear(120, 84), *block(84, linear=True),
        nn.Linear(84, 10),
    )


train_set, test_set, _ = data.small_images(cfg)
channels = train_set[0][0].shape[0]
train_set = Subset(train_set, range(len(train_set) - len(train_set) % 32))
epochs = cfg.pick(tiny=4, full=10)


def run(name: str, net: nn.Module, lr: float, batch_size: int = 32, n_epochs: int | None = None) -> train.History:
    """Train ``net`` with the chapter's SGD (momentum 0.9) on the same batches as every other run."""
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
    run_id = "08_batchnorm-solution-" + re.sub(r"[^a-z0-9.]+", "-", name.lower())
    history = train.fit(net, train_loader, n_epochs or epochs, val_loader=test_loader, lr=lr, device=cfg.device,
                        verbose=False, checkpoint=cfg.checkpoint(run_id))
    print(f"{name:34s} test accuracy per epoch: {' '.join(f'{a:.1%}' for a in history['val_acc'])}")
    return history


# %% [markdown]
# ## Exercise 1
#
# Write the seed's momentum convention into a copy of `scratch.batch_norm` and train the BatchNorm LeNet with it.
# After training, how far are its running variances from `nn.BatchNorm2d`'s, and does the test accuracy change?

# %%
def seed_batch_norm(x: torch.Tensor, moving_mean: torch.Tensor, moving_var: torch.Tensor, weight: torch.Tensor,
                    bias: torch.Tensor, training: bool, momentum: float = 0.9, eps: float = 1e-5) -> torch.Tensor:
    """`scratch.batch_norm` with the seed's convention: moving = momentum · moving + (1 − momentum) · batch, and the
    biased batch variance (divided by n) in the moving average too."""
    axes = [0, *range(2, x.dim())]
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=axes), x.var(dim=axes, correction=0)
        with torch.no_grad():
            moving_mean.mul_(momentum).add_((1 - momentum) * mean)
            moving_var.mul_(momentum).add_((1 - momentum) * var)
    else:
        mean, var = moving_mean, moving_var
    return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps) * weight.view(shape) + bias.view(shape)


class SeedBatchNorm(scratch.BatchNorm):
    """`scratch.BatchNorm` whose statistics follow the seed's convention (same parameters and buffers)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return seed_batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training)


nets = {}
for name, norm in {"PyTorch's convention": scratch.BatchNorm, "the seed's convention": SeedBatchNorm}.items():
    torch.manual_seed(0)
    nets[name] = lenet(channels, norm)
    run(name, nets[name], lr=0.05)

# %%
pytorch_net, seed_net = nets["PyTorch's convention"], nets["the seed's convention"]
same_weights = all(torch.equal(p, q) for p, q in zip(pytorch_net.parameters(), seed_net.parameters()))
print(f"every weight identical after training: {same_weights}")
print(f"{'layer':8s} {'values per channel n':>21s} {'running var ratio':>18s} {'n / (n - 1)':>12s}")
for (name, layer), seed_layer in zip(pytorch_net.named_children(), seed_net.children()):
    if isinstance(layer, scratch.BatchNorm):
        n = {"1": 32 * 28 * 28, "5": 32 * 10 * 10}.get(name, 32)  # batch × positions of the layer's output
        ratio = (layer.running_var / seed_layer.running_var).mean().item()
        print(f"{name:8s} {n:21,d} {ratio:18.6f} {n / (n - 1):12.6f}")
        assert abs(ratio - n / (n - 1)) < 1e-4
accuracy = {name: train.evaluate(net, data.loaders(train_set, test_set, batch_size=256, device=cfg.device)[1],
                                  device=cfg.device)["acc"] for name, net in nets.items()}
print("test accuracy in eval mode: " + ", ".join(f"{name} {acc:.2%}" for name, acc in accuracy.items()))
assert same_weights

# %% [markdown]
# Training is bit for bit the same: in training mode a BatchNorm layer normalises with the *batch's* statistics,
# and the running ones are only bookkept, so the weights cannot differ. The running variances differ by exactly the
# factor n/(n − 1) (the seed's momentum 0.9 on the old value *is* PyTorch's 0.1 on the new one): 1.00004 after the
# first convolution, where n = 32·28·28, but 32/31 = 1.032 in the linear layers, which see 32 values per feature.
# So the seed's network normalises with variances 3% too small in the linear layers in eval mode, which moves the
# test accuracy by a few images at most (the printed numbers); it would matter more with smaller batches.

# %% [markdown]
# ## Exercise 2
#
# Repeat the learning-rate experiment with `nn.Sigmoid` instead of `nn.ReLU`, as the seed did. Which of the four
# runs learn within four epochs, and why does sigmoid make the network without BatchNorm so much slower?

# %%
sigmoid_runs = {}
for lr in (0.05, 0.5):
    for batchnorm in (False, True):
        torch.manual_seed(0)
        net = lenet(channels, scratch.BatchNorm if batchnorm else None, activation=nn.Sigmoid)
        name = f"{'BN' if batchnorm else 'no BN'}, lr {lr}"
        sigmoid_runs[name] = run(f"sigmoid, {name}", net, lr, n_epochs=4)  # the question's four epochs, in both modes
fig = plot.plot_history(sigmoid_runs, metrics=("acc",), title="LeNet-5 with sigmoid, with and without BatchNorm")
plt.show()
learned = [name for name, h in sigmoid_runs.items() if h.last["val_acc"] > 0.25]  # chance is 10%
print(f"above 25% test accuracy within 4 epochs: {learned}")
cfg.expect(learned == ["BN, lr 0.05", "BN, lr 0.5"], "with sigmoid, only the BatchNorm networks should learn")

# %% [markdown]
# Why: the gradient that reaches each layer, at the start of training, on one batch. A sigmoid's slope is at most
# 1/4 (at 0), so every sigmoid layer passes back at most a quarter of the gradient, and its outputs are all
# positive, around 0.5, so the next layer's pre-activations get a large common offset:

# %%
# NBVAL_CHECK_OUTPUT
def gradient_norms(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Norm of d loss / d weight of every convolution and linear layer, input side first (`profile.gradient_norms`)."""
    return list(profile.gradient_norms(net, x, y).values())


torch.manual_seed(0)
x, y = torch.rand(32, 1, 32, 32), torch.randint(0, 10, (32,))
print(f"{'network':22s} gradient norm per layer, input side first          first / last")
for batchnorm in (False, True):
    torch.manual_seed(0)
    norms = gradient_norms(lenet(1, scratch.BatchNorm if batchnorm else None, activation=nn.Sigmoid), x, y)
    label = f"sigmoid, {'with' if batchnorm else 'without'} BN"
    print(f"{label:22s} {' '.join(f'{g:9.2e}' for g in norms)}   {norms[0] / norms[-1]:9.2e}")
    if not batchnorm:
        plain_ratio = norms[0] / norms[-1]
    else:
        bn_ratio = norms[0] / norms[-1]
assert bn_ratio > 10 * plain_ratio

# %% [markdown]
# Only the two BatchNorm networks learn within four epochs; without BatchNorm neither learning rate gets off chance
# level. Without it the first convolution receives a gradient thousands of times smaller than the last layer (the
# table: four sigmoid layers, each multiplying by at most 1/4, and more on the way), so the early layers barely
# move and the network
# has to wait for them; a larger learning rate would move the late layers too fast first. BatchNorm re-centres and
# re-scales every pre-activation, which keeps the sigmoids near their steepest point and the gradient to the first
# layer within an order of magnitude of the last one. With ReLU (slope 1 for positive inputs) the problem is much
# milder, which is the chapter's run.

# %% [markdown]
# ## Exercise 3
#
# Move every BatchNorm after its ReLU instead of before. Does it still tolerate the learning rate 0.5?

# %%
placement = {}
for after in (False, True):
    torch.manual_seed(0)
    name = f"BN {'after' if after else 'before'} ReLU, lr 0.5"
    placement[name] = run(name, lenet(channels, after=after), lr=0.5)
fig = plot.plot_history(placement, metrics=("acc",), title="LeNet-5 at lr 0.5: BatchNorm before or after ReLU")
plt.show()
cfg.expect(min(h.last["val_acc"] for h in placement.values()) > 0.25,
           "with BatchNorm before or after ReLU, lr 0.5 should still learn")

# %% [markdown]
# Yes, in the sense that matters: with BatchNorm after the ReLU the network still learns at 0.5, where the network
# without BatchNorm died (chapter: chance level, every unit of the last hidden layer dead). It is less steady than
# with BatchNorm before the ReLU — its test accuracy moves up and down between epochs in the run above. After the
# ReLU, BatchNorm normalises inputs that are already half zeros, and the pre-activations of the ReLUs themselves are
# no longer kept in check, so a large step can still switch many units off for a while. Both placements are used
# in practice (the BatchNorm paper put it before the non-linearity); before is the common default in CNNs.

# %% [markdown]
# ## Exercise 4
#
# The convolutional BatchNorm layers see n = batch × H × W values per channel, the linear ones only the batch.
# Remove the BatchNorm from the two linear layers and train with batches of 2 again. What happens?

# %%
small_batches = {}
variants = {"no BN": {"norm": None}, "BN everywhere": {}, "BN in the convolutions only": {"norm_linear": False}}
for name, kwargs in variants.items():
    torch.manual_seed(0)
    small_batches[name] = run(f"batches of 2, {name}", lenet(channels, **kwargs), lr=0.05 * 2 / 32, batch_size=2,
                              n_epochs=cfg.pick(tiny=2, full=5))
final = {name: h.last["val_acc"] for name, h in small_batches.items()}
cfg.expect(final["BN in the convolutions only"] > final["BN everywhere"] + 0.1,
           "with batches of 2, BatchNorm in the convolutions only should work much better than everywhere")

# %% [markdown]
# The network recovers: with BatchNorm only in the convolutions, batches of 2 train about as well as without any
# BatchNorm, while BatchNorm everywhere fails (the numbers above, 2 epochs in tiny mode and 5 in full mode as in the
# chapter). The convolutional layers estimate each channel's statistics from 2 × 28 × 28 = 1,568 and 2 × 10 × 10 =
# 200 values, enough for a usable estimate; the linear layers from 2, which turns every feature into −1 or +1. The
# batch size that BatchNorm needs is really a number of values per channel, which convolutions multiply by the
# number of positions.

# %% [markdown]
# ## Exercise 5
#
# `nn.BatchNorm2d(momentum=None)` averages all batches equally instead of exponentially. Check that
# `scratch.BatchNorm(momentum=None)` matches it over ten steps, and explain when the cumulative average is the better
# estimate.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
theirs, ours = nn.BatchNorm2d(3, momentum=None), scratch.BatchNorm(3, momentum=None)
batches = [torch.randn(4, 3, 5, 5) * (1 + k) + k for k in range(10)]  # the statistics drift from batch to batch
for x in batches:
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
same = all(torch.allclose(a.float(), b.float(), atol=1e-5) for a, b in zip(ours.state_dict().values(),
                                                                           theirs.state_dict().values()))
print(f"after 10 steps, outputs and every buffer equal (within 1e-5): {same}")
values = torch.stack([x.transpose(0, 1).flatten(1) for x in batches], 1)  # channel × batch × value
equal_weights = values.mean(dim=2).mean(dim=1)
plain_average = torch.allclose(ours.running_mean, equal_weights, atol=1e-5)
print(f"running mean = plain average of the 10 batch means: {plain_average}")
exponential = nn.BatchNorm2d(3)  # momentum 0.1: later batches weigh more
for x in batches:
    exponential(x)
print(f"running mean, channel 0: cumulative {ours.running_mean[0]:.3f}, exponential {exponential.running_mean[0]:.3f}, "
      f"mean of all batches {equal_weights[0]:.3f}")
assert same

# %% [markdown]
# The cumulative average weighs the k-th of K batches by 1/K, so it is the plain mean of all batch statistics: the
# best estimate when they all come from the same distribution — that is, when the weights no longer change. The
# exponential average (momentum 0.1) keeps about the last 10 batches and forgets the rest, which is what training
# needs: the statistics of early batches were produced by earlier weights and are stale. So the cumulative average
# is the right tool after training, to re-estimate the statistics of a finished network with one pass over the
# training data in train mode under `torch.no_grad()` (after averaging weights, or when the running statistics are
# doubtful). A demonstration on the network trained in exercise 1:

# %%
net = lenet(channels)
net.load_state_dict(pytorch_net.state_dict())
for m in net.modules():
    if isinstance(m, scratch.BatchNorm):
        m.momentum = None
        m.running_mean.zero_(), m.running_var.fill_(1), m.num_batches_tracked.zero_()
train_loader, test_loader = data.loaders(train_set, test_set, batch_size=32, seed=0, device=cfg.device)
net.to(cfg.device).train()
with torch.no_grad():
    for x, _ in train_loader:  # one pass: statistics of the final weights, every batch weighted equally
        net(x)
recomputed = train.evaluate(net, test_loader, device=cfg.device)["acc"]
exponential_acc = accuracy["PyTorch's convention"]
print(f"test accuracy with the exponential running statistics {exponential_acc:.2%}, "
      f"with statistics re-estimated by a cumulative average {recomputed:.2%}")
cfg.expect(recomputed > 0.9 * exponential_acc, "re-estimated statistics should work as well")
