"""The operations the chapters build from scratch, each tested against PyTorch's own.

- `conv` (chapter 01, NumPy in and NumPy out, N×C×H×W, the dtype is kept): `conv_output_size`, `img2col`, `conv2d`.
- `pool` (chapter 02, NumPy): `max_pool2d`, `avg_pool2d`.
- `norm`: `local_response_norm` (chapter 02, NumPy); `batch_norm` and the module `BatchNorm` (chapter 08, torch);
  `group_norm`, `weight_standardize` and the convolution `StdConv2d` (chapter 13, torch).
- `loss` (chapter 09, torch): `label_smoothing_loss`.

The NumPy operations raise a ``TypeError`` when given a torch tensor (and the torch ones when given a NumPy array),
and shapes that cannot work raise a ``ValueError`` naming the dimension that is wrong.
"""

from .conv import conv2d, conv_output_size, img2col
from .loss import label_smoothing_loss
from .norm import BatchNorm, StdConv2d, batch_norm, group_norm, local_response_norm, weight_standardize
from .pool import avg_pool2d, max_pool2d

__all__ = [
    "BatchNorm",
    "StdConv2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "conv_output_size",
    "group_norm",
    "img2col",
    "label_smoothing_loss",
    "local_response_norm",
    "max_pool2d",
    "weight_standardize",
]
