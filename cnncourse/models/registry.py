"""The course's model registry: every builder, the chapter that teaches it, and the reference it is checked against.

Each family module marks its builders with ``@register_model(chapter=..., twin=...)`` (torchvision's
``register_model`` idea, plus what a course needs to know). Tests run over `list_models()`, so a builder a later
chapter adds is checked by them (FX tracing, ``torch.compile``, input checks, the twin) without being listed by
hand; chapter 00's chart and chapter 14's closing table read it too.

``twin`` names the reference implementation: ``"torchvision"`` (torchvision's model of the same name, whose weights
load into ours), ``"timm:<name>"`` (timm's model, through a key map), or None for the course-only models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

_MODELS: dict[str, ModelInfo] = {}


@dataclass(frozen=True)
class ModelInfo:
    """One registered builder: its name, chapter, typical input (C, H, W) and reference twin."""

    name: str
    builder: Callable[..., nn.Module]
    chapter: int
    input_size: tuple[int, int, int]
    twin: str | None = None

    @property
    def twin_library(self) -> str | None:
        """``"torchvision"``, ``"timm"`` or None."""
        return self.twin.split(":")[0] if self.twin else None

    @property
    def twin_name(self) -> str | None:
        """The reference's own model name (ours, unless ``twin`` says ``"timm:<name>"``)."""
        if not self.twin:
            return None
        return self.twin.split(":", 1)[1] if ":" in self.twin else self.name

    @property
    def published_top1(self) -> float | None:
        """ImageNet top-1 accuracy (%) of the twin's default weights, from torchvision's weight metadata.

        None for course-only models and for timm twins (timm's pretrained configs carry no accuracy).
        """
        if self.twin_library != "torchvision":
            return None
        from torchvision.models import get_model_weights

        return float(get_model_weights(self.twin_name).DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"])


def register_model(
    *, chapter: int, input_size: tuple[int, int, int] = (3, 224, 224), twin: str | None = None, name: str | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that records a builder under its function name (or ``name``)."""
    if twin is not None and twin != "torchvision" and not twin.startswith("timm:"):
        raise ValueError(f"twin must be 'torchvision', 'timm:<name>' or None, got {twin!r}")

    def wrapper(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _MODELS:
            raise ValueError(f"a model named {key!r} is already registered")
        _MODELS[key] = ModelInfo(key, fn, chapter, tuple(input_size), twin)  # type: ignore[arg-type]
        return fn

    return wrapper


def list_models(chapter: int | None = None) -> list[str]:
    """Names of the registered builders in the order the chapters teach them (optionally of one chapter)."""
    infos = sorted(_MODELS.values(), key=lambda i: i.chapter)  # stable: keeps registration order within a chapter
    return [i.name for i in infos if chapter is None or i.chapter == chapter]


def model_info(name: str) -> ModelInfo:
    if name not in _MODELS:
        raise ValueError(f"no course model is named {name!r}; choose one of {', '.join(list_models())}")
    return _MODELS[name]


def get_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model by name, e.g. ``get_model("vgg16", num_classes=10)``."""
    return model_info(name).builder(**kwargs)
