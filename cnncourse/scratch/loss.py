"""Losses from scratch (chapter 09): label smoothing, as Inception-v3 introduced it."""

from __future__ import annotations

import torch

from ._checks import require_tensor


def label_smoothing_loss(
    logits: torch.Tensor, target: torch.Tensor, epsilon: float = 0.1, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy against smoothed targets ``(1 - ε)·one_hot + ε/K``: ``nn.CrossEntropyLoss(label_smoothing=ε)``.

    ``logits`` is N×K, ``target`` N class indices. Per example the loss is ``(1 - ε)·(-log p_y) + ε·mean_k(-log p_k)``:
    the usual loss for the true class plus a pull of every class's log-probability towards the uniform
    distribution, so no logit can run off to make one probability exactly 1. ``reduction``: "mean", "sum", "none".
    """
    require_tensor(logits, "logits")
    require_tensor(target, "target")
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"expected N×K logits and N targets, got {tuple(logits.shape)} and {tuple(target.shape)}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    log_p = torch.log_softmax(logits, dim=1)
    true_class = -log_p.gather(1, target.long().unsqueeze(1)).squeeze(1)  # the usual cross-entropy
    uniform = -log_p.mean(dim=1)  # cross-entropy against the uniform distribution over the K classes
    loss = (1 - epsilon) * true_class + epsilon * uniform
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss
