"""profile.gradient_norms (chapter 10): per-layer gradient norms, compared with autograd's .grad and a formula."""

import pytest
import torch
from torch import nn

from cnncourse import profile


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 6, 3, stride=2), nn.ReLU()), nn.Flatten(), nn.Linear(6 * 3 * 3, 5),
    )


def _batch():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(8, 2, 8, 8, generator=gen), torch.randint(0, 5, (8,), generator=gen)


def test_equal_to_the_norms_of_backward_grads_in_definition_order():
    model, (x, y) = _net(), _batch()
    norms = profile.gradient_norms(model, x, y)
    assert list(norms) == ["0", "3.0", "5"]  # convolutions and linear layers, not BatchNorm
    reference = _net()
    nn.functional.cross_entropy(reference(x), y).backward()
    for name, value in norms.items():
        expected = reference.get_submodule(name).weight.grad.norm().item()
        assert value == pytest.approx(expected, rel=1e-5)
    assert len(set(norms.values())) == 3 and min(norms.values()) > 0


def test_leaves_no_trace_on_the_model():
    model, (x, y) = _net(), _batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    profile.gradient_norms(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats and counter put back
    assert model.training


def test_mode_matters_and_kinds_and_loss_are_chosen_by_the_caller():
    model, (x, y) = _net(), _batch()
    train_mode = profile.gradient_norms(model, x, y)
    eval_mode = profile.gradient_norms(model.eval(), x, y)
    assert not model.training and train_mode["0"] != pytest.approx(eval_mode["0"])  # batch vs running statistics
    assert list(profile.gradient_norms(model, x, y, kinds=(nn.Linear,))) == ["5"]
    with pytest.raises(ValueError, match="BatchNorm1d"):
        profile.gradient_norms(model, x, y, kinds=(nn.BatchNorm1d,))


def test_a_linear_layer_against_the_formula():
    """For loss = sum((Wx - y)^2) with W = 0 the gradient is -2 * sum_i y_i x_i^T."""
    layer = nn.Linear(3, 2, bias=False)
    nn.init.zeros_(layer.weight)
    x = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    y = torch.tensor([[1.0, 0.0], [2.0, 1.0]])
    expected = (-2 * y.T @ x).norm().item()
    norms = profile.gradient_norms(layer, x, y, loss_fn=nn.MSELoss(reduction="sum"))
    assert norms == {"": pytest.approx(expected)}
