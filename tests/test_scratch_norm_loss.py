"""Batch normalisation (chapter 08) and label smoothing (chapter 09) from scratch against PyTorch's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import scratch

TOL = dict(rtol=1e-4, atol=1e-5)


def _shapes(n: int, seed: int) -> list[tuple[int, ...]]:
    """Seeded random N×C, N×C×L and N×C×H×W shapes (at least 2 values per channel)."""
    rng = np.random.default_rng(seed)
    shapes = []
    for i in range(n):
        batch, c = int(rng.integers(2, 9)), int(rng.integers(1, 7))
        spatial = [(), (int(rng.integers(1, 6)),), (int(rng.integers(1, 6)), int(rng.integers(1, 6)))][i % 3]
        shapes.append((batch, c, *spatial))
    return shapes


SHAPES = _shapes(12, seed=8)


def _torch_bn(shape: tuple[int, ...], **kwargs) -> nn.Module:
    return (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], **kwargs)


def _twins(shape, seed=0, **kwargs):
    """Our BatchNorm and PyTorch's with the same random γ, β and running statistics."""
    theirs = _torch_bn(shape, **kwargs)
    ours = scratch.BatchNorm(shape[1], **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in (theirs.weight, theirs.bias, theirs.running_mean):
            if t is not None:
                t.copy_(torch.randn(t.shape, generator=gen))
        if theirs.running_var is not None:
            theirs.running_var.uniform_(0.5, 2.0, generator=gen)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # same keys as nn.BatchNorm1d/2d
    return ours, theirs


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_module_equals_pytorch_in_train_and_eval_with_gradients(shape):
    ours, theirs = _twins(shape)
    gen = torch.Generator().manual_seed(1)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        x = (3 * torch.randn(shape, generator=gen) + 2).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        upstream = torch.randn(shape, generator=gen)
        y_ours, y_theirs = ours(x), theirs(x2)
        torch.testing.assert_close(y_ours, y_theirs, **TOL)
        (y_ours * upstream).sum().backward()
        (y_theirs * upstream).sum().backward()
        torch.testing.assert_close(x.grad, x2.grad, **TOL)
        torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, **TOL)
        torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, **TOL)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), **TOL)
        ours.zero_grad()
        theirs.zero_grad()


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6, 6)], ids=["2d", "4d"])
def test_several_training_steps_then_eval_match_pytorch(shape, momentum):
    """A small network trained for several SGD steps, BN ours or PyTorch's: same parameters, running stats, outputs."""
    c = shape[1]

    def net(bn: nn.Module) -> nn.Sequential:
        torch.manual_seed(0)  # the same initial layer for both
        layer = nn.Linear(c, c) if len(shape) == 2 else nn.Conv2d(c, c, 3, padding=1)
        return nn.Sequential(layer, bn, nn.ReLU())

    nets = {"ours": net(scratch.BatchNorm(c, momentum=momentum)), "theirs": net(_torch_bn(shape, momentum=momentum))}
    opts = {k: torch.optim.SGD(n.parameters(), lr=0.1, momentum=0.9) for k, n in nets.items()}
    gen = torch.Generator().manual_seed(2)
    for _ in range(6):
        x = torch.randn(shape, generator=gen) * 2 + 1
        for kind, net in nets.items():
            opts[kind].zero_grad()
            net(x).pow(2).mean().backward()
            opts[kind].step()
    ours, theirs = nets["ours"], nets["theirs"]
    for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        torch.testing.assert_close(a, b, **TOL, msg=name)
    assert int(ours[1].num_batches_tracked) == 6
    ours.eval(), theirs.eval()
    x = torch.randn(shape, generator=gen)
    torch.testing.assert_close(ours(x), theirs(x), **TOL)


def test_function_updates_running_statistics_in_place_with_pytorch_convention():
    x = torch.randn(16, 4, 5, 5) * 3 + 1
    mean, var = torch.zeros(4), torch.ones(4)
    ref_mean, ref_var = mean.clone(), var.clone()
    y = scratch.batch_norm(x, mean, var, training=True, momentum=0.2)
    y_ref = F.batch_norm(x, ref_mean, ref_var, training=True, momentum=0.2)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(mean, ref_mean, **TOL)
    torch.testing.assert_close(var, ref_var, **TOL)
    n = 16 * 5 * 5
    batch_var = x.var(dim=(0, 2, 3), correction=0)
    # PyTorch's convention: momentum weighs the NEW value, and the estimate uses the unbiased variance
    torch.testing.assert_close(var, 0.8 * 1 + 0.2 * batch_var * n / (n - 1))
    assert not torch.allclose(var, 0.8 * 1 + 0.2 * batch_var)  # the biased one would differ
    # eval mode: normalised with the running statistics, which stay unchanged
    before = mean.clone()
    y_eval = scratch.batch_norm(x, mean, var, training=False)
    torch.testing.assert_close(y_eval, F.batch_norm(x, ref_mean, ref_var, training=False), **TOL)
    assert torch.equal(mean, before)


def test_seed_convention_is_pytorch_momentum_one_minus_it_but_biased():
    """Seed 002 writes moving = 0.9·moving + 0.1·batch with the biased variance: same mean as momentum=0.1."""
    x = torch.randn(6, 3) * 2
    mean, var = torch.zeros(3), torch.ones(3)
    scratch.batch_norm(x, mean, var, training=True, momentum=0.1)
    seed_mean = 0.9 * torch.zeros(3) + 0.1 * x.mean(0)
    seed_var = 0.9 * torch.ones(3) + 0.1 * x.var(0, correction=0)
    torch.testing.assert_close(mean, seed_mean)
    torch.testing.assert_close(var - 0.9, (seed_var - 0.9) * 6 / 5)  # the batch part differs by n / (n - 1)


def test_module_without_running_stats_or_affine_and_bad_inputs():
    x = torch.randn(5, 3, 4, 4)
    ours = scratch.BatchNorm(3, affine=False, track_running_stats=False)
    theirs = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    ours.eval(), theirs.eval()  # no running statistics: batch statistics even in eval mode
    torch.testing.assert_close(ours(x), theirs(x), **TOL)
    assert not list(ours.parameters()) and ours.state_dict() == {}
    with pytest.raises(ValueError, match="N×4"):
        scratch.BatchNorm(4)(x)
    with pytest.raises(ValueError, match="more than 1 value"):
        scratch.BatchNorm(3)(torch.randn(1, 3))
    with pytest.raises(TypeError, match="torch tensors"):
        scratch.BatchNorm(3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="running statistics"):
        scratch.batch_norm(x, None, None, training=False)


# --- label smoothing --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [0.0, 0.05, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_equals_pytorch_with_gradients(epsilon, reduction):
    gen = torch.Generator().manual_seed(int(epsilon * 100))
    for n, k in [(1, 2), (7, 10), (32, 5)]:
        logits = (4 * torch.randn(n, k, generator=gen)).requires_grad_()
        logits2 = logits.detach().clone().requires_grad_()
        target = torch.randint(0, k, (n,), generator=gen)
        ours = scratch.label_smoothing_loss(logits, target, epsilon, reduction=reduction)
        theirs = nn.CrossEntropyLoss(label_smoothing=epsilon, reduction=reduction)(logits2, target)
        torch.testing.assert_close(ours, theirs, **TOL)
        upstream = torch.randn(ours.shape, generator=gen)
        (ours * upstream).sum().backward()
        (theirs * upstream).sum().backward()
        torch.testing.assert_close(logits.grad, logits2.grad, **TOL)


def test_label_smoothing_targets_are_one_minus_epsilon_plus_epsilon_over_k():
    """The gradient of the mean loss w.r.t. the logits is (softmax - smoothed target) / N: read the target off it."""
    logits = torch.zeros(1, 4, requires_grad=True)  # softmax = 1/4 everywhere
    scratch.label_smoothing_loss(logits, torch.tensor([2]), epsilon=0.2).backward()
    smoothed = torch.full((4,), 0.2 / 4)
    smoothed[2] += 0.8
    torch.testing.assert_close(logits.grad[0], 0.25 - smoothed)


def test_label_smoothing_bad_arguments():
    logits, target = torch.randn(3, 4), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="epsilon"):
        scratch.label_smoothing_loss(logits, target, 1.5)
    with pytest.raises(ValueError, match="N×K"):
        scratch.label_smoothing_loss(logits, target[:2])
    with pytest.raises(ValueError, match="reduction"):
        scratch.label_smoothing_loss(logits, target, reduction="max")
    with pytest.raises(TypeError, match="torch tensors"):
        scratch.label_smoothing_loss(logits.numpy(), target)
