"""LeNet-5: parameter count, layer names, output shape, and a clear error for inputs of the wrong size."""

from __future__ import annotations

import pytest
import torch

from cnncourse import profile
from cnncourse.models import lenet5


def test_parameter_count_matches_the_textbook():
    assert profile.count_params(lenet5()) == 61_706
    assert profile.count_params(lenet5(activation="relu")) == 61_706
    # 3 input channels add 2×6×25 weights to C1; 100 classes add 90×85 to the output layer
    assert profile.count_params(lenet5(num_classes=100, in_channels=3)) == 61_706 + 2 * 6 * 25 + 90 * 85


def test_layer_names_and_shapes():
    model = lenet5()
    names = [name for name, _ in model.named_children()]
    for layer in ("c1", "s2", "c3", "s4", "c5", "f6", "output"):
        assert layer in names
    x = torch.zeros(4, 1, 32, 32)
    shapes = {}
    for name, module in model.named_children():
        x = module(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["c1"] == (6, 28, 28) and shapes["s2"] == (6, 14, 14)
    assert shapes["c3"] == (16, 10, 10) and shapes["s4"] == (16, 5, 5)
    assert shapes["c5"] == (120, 1, 1) and shapes["f6"] == (84,) and shapes["output"] == (10,)


@pytest.mark.parametrize("num_classes, in_channels", [(10, 1), (7, 3)])
def test_output_shape_and_gradients(num_classes, in_channels):
    model = lenet5(num_classes=num_classes, in_channels=in_channels)
    out = model(torch.randn(5, in_channels, 32, 32))
    assert out.shape == (5, num_classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (2, 1, 8, 8), (2, 1, 32, 28), (2, 1, 64, 64), (32, 32)])
def test_wrong_input_size_is_a_clear_error(shape):
    with pytest.raises(ValueError, match="LeNet-5 needs N×C×32×32 input"):
        lenet5()(torch.zeros(shape))


def test_an_unbatched_digit_is_told_to_add_the_batch_dimension():
    with pytest.raises(ValueError, match=r"unbatched image of shape \(1, 32, 32\).*unsqueeze\(0\)"):
        lenet5()(torch.zeros(1, 32, 32))


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of tanh, relu"):
        lenet5(activation="gelu")
