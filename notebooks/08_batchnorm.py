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
# # 08 · Batch normalisation from scratch
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/08_batchnorm.ipynb)
#
# Ioffe and Szegedy's *Batch Normalization* (2015) added one small layer after convolutions and linear layers:
# standardise every channel with the mean and variance of the current mini-batch, then let the network rescale
# and shift it with two learned numbers per channel. Their BN-Inception trained in a fraction of the steps of
# GoogLeNet and beat it, and since then almost every CNN in this course (Inception-v3, ResNet, DenseNet) has a
# BatchNorm after nearly every convolution. This chapter builds the layer by hand, checks it against
# `nn.BatchNorm2d` number for number, and measures the three things every user of BatchNorm must know: it lets
# you train with a larger learning rate, it behaves differently in training and in evaluation, and it needs
# batches that are not too small.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import copy
import inspect
import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

import cnncourse
from cnncourse import data, plot, profile, results, scratch, train

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Why normalise inside the network?
#
# Chapter 03 normalised the *input* images, because gradient descent works best when the features it sees have
# similar scales. The inputs of the second layer are the outputs of the first, and their scale changes every
# time the first layer's weights change. The **paper's** explanation is this: it calls the change of each layer's
# input distribution during training *internal covariate shift* and argues that every layer keeps chasing a
# moving target, which forces small learning rates and careful initialisation, and pushes saturating
# activations (sigmoid, tanh) into their flat regions. Normalising every layer's inputs would remove the shift.
#
# **Later work** questioned that explanation. Santurkar, Tsipras, Ilyas and Madry (*How Does Batch Normalization
# Help Optimization?*, 2018) measured internal covariate shift in networks with and without BatchNorm and found it
# was not reduced by BatchNorm in any clear way; they even added random noise after every BatchNorm layer to
# create *more* shift, and training was still fast. Their explanation is that BatchNorm makes the loss landscape
# smoother — the loss and its gradient change more slowly as the weights move — so a gradient step can be larger
# without overshooting. Both agree on what to expect in practice, and that is what we measure below: with
# BatchNorm a network trains at a learning rate that makes the same network without it fail.

# %% [markdown]
# ## Batch statistics, step by step
#
# After a convolution the activations have shape N×C×H×W. BatchNorm treats every channel as one feature and
# computes its mean and variance over the batch **and** all positions, N·H·W values per channel (after a linear
# layer, N×C, over the N examples). Each value is then standardised: $\hat{x} = (x - \mu_B) / \sqrt{\sigma_B^2 +
# \epsilon}$, where $\epsilon$ (1e-5 by default) protects against a zero variance; it also keeps the standard
# deviation of a channel with a small variance slightly below 1, hence the tolerance below.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
scale, shift = torch.tensor([1.0, 5.0, 0.2]).view(1, 3, 1, 1), torch.tensor([0.0, 10.0, -3.0]).view(1, 3, 1, 1)
x = torch.randn(8, 3, 5, 5) * scale + shift  # three channels with very different means and spreads
mean = x.mean(dim=(0, 2, 3), keepdim=True)  # one value per channel: shape 1×3×1×1
var = x.var(dim=(0, 2, 3), keepdim=True, correction=0)  # the *biased* variance: divided by N·H·W
x_hat = (x - mean) / torch.sqrt(var + 1e-5)
print(f"values per channel: {x.shape[0] * x.shape[2] * x.shape[3]}")
print(f"per-channel mean before {[round(v, 1) for v in mean.flatten().tolist()]}, "
      f"after: all |mean| < 1e-6: {bool(x_hat.mean(dim=(0, 2, 3)).abs().max() < 1e-6)}")
std_after = x_hat.std(dim=(0, 2, 3), correction=0)
print(f"per-channel std after, all within 1e-3 of 1: {bool((std_after - 1).abs().max() < 1e-3)}")

# %% [markdown]
# A layer whose outputs are forced to mean 0 and variance 1 would be less expressive (a ReLU after it would always
# see half of its inputs negative). So BatchNorm ends with a learned scale $\gamma$ and shift $\beta$ per channel:
# $y = \gamma \hat{x} + \beta$. They start at 1 and 0; with $\gamma = \sqrt{\sigma_B^2 + \epsilon}$ and $\beta =
# \mu_B$ the layer gives back its input exactly, so normalisation never removes anything the network cannot learn
# to restore:

# %%
# NBVAL_CHECK_OUTPUT
gamma, beta = torch.sqrt(var + 1e-5), mean
restored = gamma * x_hat + beta
print(f"γ = σ, β = μ gives the input back, max abs difference < 1e-5: {bool((restored - x).abs().max() < 1e-5)}")

# %% [markdown]
# The statistics come from the batch, so the batch size matters. After a linear layer there is one value per
# example and channel: with a batch of 2, every feature has two values, and standardising two values always gives
# −1 and +1, whatever they were (up to ε, which shows when the two values are close, as in the last column). We
# will come back to that.

# %%
# NBVAL_CHECK_OUTPUT
two = torch.tensor([[3.0, -20.0, 0.5], [7.0, 100.0, 0.6]])  # 2 examples × 3 features
normalised = (two - two.mean(0)) / torch.sqrt(two.var(0, correction=0) + 1e-5)
print(normalised.round(decimals=3))

# %% [markdown]
# ## Running statistics for inference
#
# At inference there may be a single image, and a prediction must not depend on which other images share its
# batch. So BatchNorm keeps an exponential moving average of the batch statistics during training and normalises
# with those in evaluation mode. Two conventions for that average are in use, and the course's seed text and
# PyTorch differ in both respects:
#
# - **seed (d2l style):** `moving = 0.9 · moving + 0.1 · batch`, with `momentum = 0.9` weighing the *old* value,
#   and the biased batch variance (divided by n);
# - **PyTorch:** `running = (1 − momentum) · running + momentum · batch` with `momentum = 0.1` weighing the *new*
#   value — the same average for the mean — and the **unbiased** batch variance, divided by n − 1, because the
#   running variance estimates the variance of the whole data set, for which the batch is a sample.
#
# Shown on one training step of `nn.BatchNorm1d` with a batch of 4 (n = 4, so the unbiased variance is 4/3 of the
# biased one):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
batch = torch.randn(4, 3) * 2 + 1
bn = nn.BatchNorm1d(3, momentum=0.1)
bn(batch)  # training mode: normalise with the batch statistics, update the running ones
seed_mean = 0.9 * torch.zeros(3) + 0.1 * batch.mean(0)
seed_var = 0.9 * torch.ones(3) + 0.1 * batch.var(0, correction=0)
print(f"running mean, PyTorch == seed convention: {torch.allclose(bn.running_mean, seed_mean)}")
print(f"running var,  PyTorch == seed convention: {torch.allclose(bn.running_var, seed_var)}")
ratio = (bn.running_var - 0.9) / (seed_var - 0.9)  # the batch parts only
print(f"PyTorch's batch part / the seed's: {[round(r, 4) for r in ratio.tolist()]} = n / (n - 1) = {4 / 3:.4f}")

# %% [markdown]
# The difference fades for large batches (a batch of 256 feature maps of 8×8 gives n = 16,384), but it is not
# zero, and a from-scratch version must use PyTorch's convention to match `nn.BatchNorm2d`.
#
# ## The course's version
#
# `cnncourse.scratch.batch_norm` takes the same arguments as PyTorch's functional `F.batch_norm`. It is plain
# tensor arithmetic, so autograd differentiates it; the running statistics are updated in place without
# gradient:

# %%
print(inspect.getsource(scratch.batch_norm))

# %% [markdown]
# `cnncourse.scratch.BatchNorm` wraps it as a module for N×C and N×C×H×W input. γ and β are parameters; the
# running statistics are **buffers**, so `model.to(device)` moves them and `state_dict()` saves them — with the
# same names as PyTorch's, so the two load each other's state dicts. It decides between batch and running
# statistics by `self.training`, which `model.train()` and `model.eval()` set:

# %%
print(inspect.getsource(scratch.BatchNorm.forward))

# %% [markdown]
# The seed's version differs in two ways that matter beyond the momentum convention. It picks the mode with
# `torch.is_grad_enabled()` instead of `self.training`: evaluating without `torch.no_grad()` silently uses batch
# statistics, and normalising with running statistics while computing gradients (fine-tuning with frozen
# statistics, chapter 13) is impossible. And it keeps the moving averages as plain attributes, not buffers, so they
# are missing from the state dict: a saved model forgets them.
#
# Now the checks against PyTorch: the same random γ, β and running statistics in both, then a training-mode
# forward and backward pass (outputs, gradients, updated statistics), an eval-mode pass, and a small convolutional
# network trained for five SGD steps with either BatchNorm.

# %%
# NBVAL_CHECK_OUTPUT
def close(a, b) -> bool:
    return bool((a - b).abs().max() < 1e-5)


torch.manual_seed(0)
theirs, ours = nn.BatchNorm2d(4), scratch.BatchNorm(4)
with torch.no_grad():  # random γ, β and running statistics, so that nothing is compared at its default value
    theirs.weight.uniform_(0.5, 2)
    theirs.bias.normal_()
    theirs.running_mean.normal_()
    theirs.running_var.uniform_(0.5, 2)
ours.load_state_dict(theirs.state_dict())  # strict: the same keys
print(f"state-dict keys: {list(ours.state_dict())}")
for mode in ("train", "eval"):
    theirs.train(mode == "train"), ours.train(mode == "train")
    x = (torch.randn(6, 4, 5, 5) * 3 + 1).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    y_ours, y_theirs = ours(x), theirs(x2)
    upstream = torch.randn_like(y_ours)
    (y_ours * upstream).sum().backward(), (y_theirs * upstream).sum().backward()
    same = {"output": close(y_ours, y_theirs), "grad x": close(x.grad, x2.grad),
            "grad γ": close(ours.weight.grad, theirs.weight.grad), "grad β": close(ours.bias.grad, theirs.bias.grad),
            "running mean": close(ours.running_mean, theirs.running_mean),
            "running var": close(ours.running_var, theirs.running_var)}
    print(f"{mode:5s} mode, max abs difference < 1e-5: {same}")
    ours.zero_grad(), theirs.zero_grad()


def tiny_net(norm: nn.Module) -> nn.Sequential:
    torch.manual_seed(1)  # the same convolution weights in both
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), norm, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


nets = [tiny_net(scratch.BatchNorm(4)), tiny_net(nn.BatchNorm2d(4))]
optimizers = [torch.optim.SGD(n.parameters(), lr=0.1, momentum=0.9) for n in nets]
torch.manual_seed(2)
for step in range(5):
    x, y = torch.randn(8, 1, 6, 6) * 2 + 1, torch.randint(0, 3, (8,))
    for net, opt in zip(nets, optimizers):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
states = [n.state_dict() for n in nets]
equal = all(close(states[0][k].float(), states[1][k].float()) for k in states[1])
print(f"after 5 SGD steps, every parameter and buffer equal: {equal}; "
      f"batches tracked {int(states[0]['1.num_batches_tracked'])}")
x = torch.randn(8, 1, 6, 6)
print(f"eval-mode outputs equal: {close(nets[0].eval()(x), nets[1].eval()(x))}")

# %% [markdown]
# ## LeNet with and without BatchNorm, at two learning rates
#
# The experiment from the seed: LeNet-5 with a BatchNorm after each of its four hidden layers (before the
# activation, as the paper placed it), against the same network without. We use ReLU (chapter 04) rather than the
# seed's sigmoid; the sigmoid version is exercise 2. Both train with SGD and momentum 0.9 at a moderate learning
# rate, 0.05, and at ten times that, 0.5, from the same initial weights and on the same batches. Tiny mode trains on
# the handwritten digits for 4 epochs, full mode on CIFAR-10 (with 3 input channels; the layer sizes are the same
# for 32×32 images) for 10. The experiment is the textbook's (seed 002 trains its BatchNorm LeNet on
# Fashion-MNIST), not the paper's — Ioffe and Szegedy trained on ImageNet, and on MNIST a fully-connected network —
# so there is no paper schedule: `CNNCOURSE_SCHEDULE=paper` runs the same 10 epochs.

# %%
def lenet(in_channels: int, batchnorm: bool) -> nn.Sequential:
    """LeNet-5 with ReLU; a `scratch.BatchNorm` after every hidden convolution and linear layer when asked."""
    norm = scratch.BatchNorm if batchnorm else (lambda channels: nn.Identity())
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), norm(6), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), norm(16), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), norm(120), nn.ReLU(),
        nn.Linear(120, 84), norm(84), nn.ReLU(),
        nn.Linear(84, 10),
    )


train_set, test_set, class_names = data.small_images(cfg)
channels = train_set[0][0].shape[0]
# a last batch of a single image cannot be batch-normalised (one value per feature): use a multiple of 32 images
train_set = Subset(train_set, range(len(train_set) - len(train_set) % 32))
EPOCHS = {"tiny": 4, "full": 10}  # no paper schedule: the experiment is the textbook's, not the paper's
epochs = cfg.pick(**EPOCHS)
runs, trained = {}, {}
for lr in (0.05, 0.5):
    for batchnorm in (False, True):
        torch.manual_seed(0)
        net = lenet(channels, batchnorm)
        train_loader, test_loader = data.loaders(train_set, test_set, batch_size=32, seed=0, device=cfg.device)
        name = f"{'BN' if batchnorm else 'no BN'}, lr {lr}"
        run = f"08_batchnorm-{'bn' if batchnorm else 'plain'}-lr{lr}"
        runs[name] = train.fit(net, train_loader, epochs, val_loader=test_loader, lr=lr, device=cfg.device,
                               verbose=False, checkpoint=cfg.checkpoint(run))
        trained[name] = net
        print(f"{name:13s} test accuracy per epoch: {' '.join(f'{a:.1%}' for a in runs[name]['val_acc'])}")
cfg.expect(runs["BN, lr 0.05"]["val_acc"][0] > runs["no BN, lr 0.05"]["val_acc"][0],
           "at lr 0.05, BatchNorm should learn faster in the first epoch")
cfg.expect(runs["no BN, lr 0.5"].last["val_acc"] < 0.15, "without BatchNorm, lr 0.5 should fail (chance is 10%)")
cfg.expect(runs["BN, lr 0.5"].last["val_acc"] > 0.3, "with BatchNorm, lr 0.5 should still learn (chance is 10%)")
fig = plot.plot_history(runs, metrics=("acc",), title="LeNet-5 with and without BatchNorm")
plt.show()

# %% [markdown]
# At 0.05 both networks learn, the one with BatchNorm faster in the first epoch. At 0.5 the network without
# BatchNorm ends at chance level (10%). What happened to it? We count, for both networks trained at 0.5, the units
# of the last hidden layer that output zero for every test image — ReLUs that are "dead", because a unit that is
# never active also gets no gradient and cannot recover:

# %%
test_images = torch.stack([test_set[i][0] for i in range(min(len(test_set), 2000))]).to(cfg.device)
dead = {}
for name in ("no BN, lr 0.5", "BN, lr 0.5"):
    net = trained[name].eval()
    with torch.no_grad():
        hidden = net[:-1](test_images)  # everything up to the last ReLU: N × 84
    dead[name] = (hidden.max(dim=0).values <= 0).float().mean().item()
    print(f"{name:13s} last hidden layer: {dead[name]:.0%} of its 84 units are zero for every test image")
cfg.expect(dead["no BN, lr 0.5"] > 0.9 > dead["BN, lr 0.5"], "lr 0.5 should kill the layer without BatchNorm only")

# %% [markdown]
# Without BatchNorm, a few large steps pushed the pre-activations of the last hidden layer so far negative that
# its ReLUs switched off for good, and the output no longer depends on the input. With BatchNorm the same learning
# rate works: each layer's pre-activations are re-standardised to mean β and scale γ whatever the weights before
# it became, so the units keep inputs in the range where ReLU passes a gradient. Some units still die (the count
# above), but one large step cannot knock out a whole layer. This tolerance of larger learning rates is what made
# BatchNorm the default.

# %% [markdown]
# ## What goes wrong when you forget `model.eval()`
#
# In training mode a BatchNorm layer normalises with the statistics of whatever batch it is given — even at test
# time — and also **updates** its running statistics with that batch. We take the BatchNorm network trained at
# 0.05 and evaluate it on the test set in both modes; in training mode with test batches of several sizes (on a
# copy, so that the original keeps its running statistics):

# %%
def accuracy(model: nn.Module, dataset, batch_size: int, training: bool) -> float:
    """Test accuracy with the model in training mode (batch statistics) or eval mode (running statistics)."""
    model.train(training)
    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            correct += int((model(x.to(cfg.device)).argmax(1).cpu() == y).sum())
    return correct / len(dataset)


net = trained["BN, lr 0.05"]
eval_acc, train_mode_acc = accuracy(net, test_set, 256, training=False), {}
print(f"eval mode (running statistics):         {eval_acc:.1%}")
for batch_size in (len(test_set), 32, 4):
    forgot = copy.deepcopy(net)
    train_mode_acc[batch_size] = accuracy(forgot, test_set, batch_size, training=True)
    changed = not torch.equal(forgot[1].running_mean, net[1].running_mean)
    print(f"train mode, test batches of {batch_size:5d}:   {train_mode_acc[batch_size]:.1%}   "
          f"(running statistics overwritten: {changed})")
cfg.expect(train_mode_acc[4] < eval_acc, "batch statistics of 4 test images should cost accuracy")

# %% [markdown]
# With large test batches the batch statistics are close to the running ones and the damage is small; with small
# batches every prediction depends on the other three images of its batch, and accuracy drops. Worse, the
# forgotten `eval()` silently overwrote the running statistics with test-set batches, so even a later correct
# evaluation gives a different answer. The rule: `model.eval()` before evaluating or predicting, `model.train()`
# before training (`cnncourse.train.fit` and `evaluate` do both for you).

# %% [markdown]
# ## BatchNorm and the batch size
#
# The same two networks trained with batches of 2, 8 and 32 images, for the same number of epochs (2 in tiny mode,
# 5 in full mode; no paper schedule here either), with the learning rate scaled in proportion to the batch size
# (0.05 for 32) so that every run moves its weights by a similar amount per epoch. Tested in eval mode.

# %%
batch_sizes = (2, 8, 32)
BATCH_EPOCHS = {"tiny": 2, "full": 5}  # no paper schedule
by_batch = {False: [], True: []}  # test accuracy without / with BatchNorm, one per batch size
for batch_size in batch_sizes:
    for batchnorm in (False, True):
        torch.manual_seed(0)
        net = lenet(channels, batchnorm)
        loader, _ = data.loaders(train_set, test_set, batch_size=batch_size, seed=0, device=cfg.device)
        train.fit(net, loader, cfg.pick(**BATCH_EPOCHS), lr=0.05 * batch_size / 32, device=cfg.device, verbose=False,
                  checkpoint=cfg.checkpoint(f"08_batchnorm-batch{batch_size}-{'bn' if batchnorm else 'plain'}"))
        by_batch[batchnorm].append(train.evaluate(net, test_loader, device=cfg.device)["acc"])
    print(f"batch size {batch_size:2d}: test accuracy without BN {by_batch[False][-1]:.1%}, "
          f"with BN {by_batch[True][-1]:.1%}")
cfg.expect(by_batch[True][0] < by_batch[False][0] - 0.2, "with batches of 2, BatchNorm should break training")
cfg.expect(all(bn >= plain - 0.01 for bn, plain in zip(by_batch[True][1:], by_batch[False][1:])),
           "with batches of 8 and 32, BatchNorm should help or do no harm")

fig, ax = plt.subplots(figsize=(6, 3.2))
positions = torch.arange(len(batch_sizes)).float()
ax.bar(positions - 0.2, [100 * a for a in by_batch[False]], width=0.4, label="without BatchNorm")
ax.bar(positions + 0.2, [100 * a for a in by_batch[True]], width=0.4, label="with BatchNorm")
ax.set_xticks(positions.tolist(), [str(b) for b in batch_sizes])
ax.set_xlabel("training batch size (images)")
ax.set_ylabel("test accuracy (%)")
ax.set_title("LeNet-5: test accuracy vs training batch size")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# With batches of 8 and 32, BatchNorm helps or does no harm. With batches of 2 it breaks the network: the
# statistics of two examples are a poor estimate of the data's, so training normalises with noise and evaluation
# with something else entirely, and in the two linear layers every feature becomes −1 or +1 (the cell above with
# the batch of 2), which leaves almost nothing to learn from. The network without BatchNorm has no such problem.
# That is why detection and segmentation networks, which fit only a few large images per GPU, freeze their
# BatchNorm statistics or replace the layer by GroupNorm — which normalises over groups of channels of one image
# instead of over the batch. Chapter 13 (BiT) builds GroupNorm the same way as this chapter built BatchNorm.

# %% [markdown]
# ## What full mode costs, and the results
#
# All ten full-mode training runs, estimated from the networks' FLOPs (`profile.estimate_minutes`; the README states
# its assumptions). LeNet is so small that the estimate is dominated by the fixed cost per optimizer step, so the
# runs with batches of 2 images, with about 25,000 steps per epoch, take most of the time:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    shapes = {batchnorm: lenet(3, batchnorm) for batchnorm in (False, True)}
n_train = 50_000 - 50_000 % 32  # CIFAR-10's training set, cut to a multiple of 32 like the tiny one
lr_minutes = sum(2 * profile.estimate_minutes(net, (3, 32, 32), images=n_train, epochs=EPOCHS["full"], batch_size=32,
                                              eval_images=10_000) for net in shapes.values())
batch_minutes = {b: sum(profile.estimate_minutes(net, (3, 32, 32), images=n_train, epochs=BATCH_EPOCHS["full"],
                                                 batch_size=b) for net in shapes.values()) for b in batch_sizes}
minutes = lr_minutes + sum(batch_minutes.values())
estimated = {"class": minutes, "paper": minutes}
print(f"learning rates: 4 runs of {EPOCHS['full']} epochs, about {lr_minutes:.1f} GPU minutes")
for b, m in batch_minutes.items():
    print(f"batch size {b:2d}: 2 runs of {BATCH_EPOCHS['full']} epochs, about {m:.1f} GPU minutes")
print(f"full mode, either schedule: about {minutes:.1f} GPU minutes in all")

# %%
_ = results.record(
    cfg, "08_batchnorm",
    {**{f"test accuracy, {name} (%)": 100 * history.last["val_acc"] for name, history in runs.items()},
     "test accuracy in training mode, batches of 4 (%)": 100 * train_mode_acc[4],
     "test accuracy, batches of 2, without BN (%)": 100 * by_batch[False][0],
     "test accuracy, batches of 2, with BN (%)": 100 * by_batch[True][0]},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/08_batchnorm.ipynb](solutions/08_batchnorm.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/08_batchnorm.ipynb)
#
# 1. Write the seed's momentum convention into a copy of `scratch.batch_norm` and train the BatchNorm LeNet with
#    it. After training, how far are its running variances from `nn.BatchNorm2d`'s, and does the test accuracy
#    change?
# 2. Repeat the learning-rate experiment with `nn.Sigmoid` instead of `nn.ReLU`, as the seed did. Which of the four
#    runs learn within four epochs, and why does sigmoid make the network without BatchNorm so much slower?
# 3. Move every BatchNorm after its ReLU instead of before. Does it still tolerate the learning rate 0.5?
# 4. The convolutional BatchNorm layers see n = batch × H × W values per channel, the linear ones only the batch.
#    Remove the BatchNorm from the two linear layers and train with batches of 2 again. What happens?
# 5. `nn.BatchNorm2d(momentum=None)` averages all batches equally instead of exponentially. Check that
#    `scratch.BatchNorm(momentum=None)` matches it over ten steps, and explain when the cumulative average is the
#    better estimate.
