"""Model builders, one module per family, named like torchvision's (plus the course-only models).

Every ImageNet model that torchvision also has is state-dict compatible with it (same keys, shapes and eval-mode
outputs), so ``weights=`` loads torchvision's official pretrained weights.
"""

from .lenet import lenet5
from .alexnet import alexnet, alexnet_paper
from .nin import nin
from .vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
