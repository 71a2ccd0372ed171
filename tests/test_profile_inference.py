"""`profile.inference_cost`: the parameters an eval-mode forward pass uses, and its FLOPs, in one pass."""

import torch
import torchvision.models as tvm
from torch import nn

from cnncourse import models, profile


class WithAuxHead(nn.Module):
    """A trunk that always runs and an auxiliary head that only runs while training (like GoogLeNet's)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(8, 4)
        self.aux = nn.Linear(8, 3)
        self.scale = nn.Parameter(torch.ones(1))  # held by the top module itself

    def forward(self, x):
        out = self.trunk(x) * self.scale
        return (out, self.aux(x)) if self.training else out


def test_unused_modules_are_left_out_and_parameters_of_the_caller_counted():
    model = WithAuxHead().train()
    cost = profile.inference_cost(model, (2, 8))
    assert cost.params == 8 * 4 + 4 + 1 == profile.count_params(model) - (8 * 3 + 3)
    assert cost.flops == profile.count_flops(model, (2, 8)) == 2 * 2 * 8 * 4
    assert model.training  # measured in eval mode, mode restored


def test_a_shared_parameter_counts_once():
    shared = nn.Linear(5, 5)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert profile.inference_cost(model, (1, 5)).params == 30 == profile.count_params(model)


def test_googlenet_and_inception_v3_without_their_auxiliary_classifiers():
    with torch.device("meta"):
        googlenet, inception = models.googlenet(), models.inception_v3()
    assert profile.count_params(googlenet) == 13_004_888  # built with its auxiliary heads
    used = profile.inference_cost(googlenet, (1, 3, 224, 224)).params
    assert used == tvm.GoogLeNet_Weights.DEFAULT.meta["num_params"] == 6_624_904
    aux = profile.count_params(inception.AuxLogits)
    assert profile.inference_cost(inception, (1, 3, 299, 299)).params == profile.count_params(inception) - aux
