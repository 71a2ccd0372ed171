"""Model builders, one module per family, named like torchvision's (plus the course-only models).

Every ImageNet model that torchvision also has is state-dict compatible with it (same keys, shapes and eval-mode
outputs), so ``weights=`` loads torchvision's official pretrained weights.
"""

from .lenet import lenet5
