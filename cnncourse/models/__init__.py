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
from .googlenet import googlenet, googlenet_small
from .inception import inception_v3, inception_v3_small
from .inception_v4 import inception_resnet_v1, inception_resnet_v2, inception_v4
