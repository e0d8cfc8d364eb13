"""Training a classifier on a (small) labelled image set: the evaluation protocol and DM warm start."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .augment import apply, sample_params

__all__ = ["train_classifier", "predict"]


def train_classifier(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 256,
    dsa: bool = True,
    lr_decay: bool = True,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Minimise cross-entropy of ``net`` on (images (N, C, H, W), labels (N,)) with SGD.

    Each epoch visits the set once in a random order, in batches of ``batch_size``; with ``dsa``
    every image gets its own random augmentation draw. With ``lr_decay`` the lr drops ×0.1 at
    ``epochs // 2`` (the DD evaluation protocol). ``images`` are detached: the net is trained, not S.
    """
    images, labels = images.detach(), labels.detach()
    with torch.enable_grad():  # callers may sit inside no_grad (e.g. a dashboard refresh)
        return _fit(net, images, labels, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                    batch_size=batch_size, dsa=dsa, lr_decay=lr_decay, generator=generator)


def _fit(net, images, labels, *, epochs, lr, momentum, weight_decay, batch_size, dsa, lr_decay, generator):
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n = images.shape[0]
    for epoch in range(epochs):
        if lr_decay and epoch == epochs // 2 and epoch > 0:
            for group in opt.param_groups:
                group["lr"] = lr * 0.1
        order = torch.randperm(n, generator=generator, device=images.device)  # (N,)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = images[idx]  # (B, C, H, W)
            if dsa:
                x = apply(x, sample_params(x.shape[0], generator=generator, device=x.device))
            loss = F.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Predicted class of every image, (N,) long."""
    net.eval()
    out = [net(images[i:i + batch_size]).argmax(1) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=images.device)
