"""Model builders, one module per family, named like torchvision's (plus the course-only models).

Every ImageNet model that torchvision also has is state-dict compatible with it (same keys, shapes and eval-mode
outputs), so ``weights=`` loads torchvision's official pretrained weights. Every builder is registered
(`list_models`, `model_info`, `get_model`) with the chapter that teaches it and its reference twin, and
`check_twin` is the chapters' (and tests') one way of comparing a model with its twin.
"""

from .registry import ModelInfo, get_model, list_models, model_info, register_model
from .twin import TwinReport, check_twin

from .lenet import lenet5
from .alexnet import alexnet, alexnet_paper
from .nin import nin
from .vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .resnet import (
    plain_cifar, resnet18, resnet20, resnet32, resnet34, resnet44, resnet50, resnet56, resnet101, resnet110, resnet152,
    resnet_cifar, resnext50_32x4d, wide_resnet50_2,
)
from .googlenet import googlenet, googlenet_small
from .inception import inception_v3, inception_v3_small
from .inception_v4 import inception_resnet_v1, inception_resnet_v2, inception_v4
from .resnetv2 import (
    ResNetV2, load_bit_npz, resnetv2_50x1_bit, resnetv2_50x3_bit, resnetv2_101x1_bit, resnetv2_101x3_bit,
    resnetv2_152x2_bit, resnetv2_152x4_bit, resnetv2_bit, save_bit_npz,
)
from .densenet import densenet121, densenet161, densenet169, densenet201, densenet_bc_100_12, densenet_cifar
from .efficientnet import (
    efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, efficientnet_b5, efficientnet_b6,
    efficientnet_b7,
)
