"""Training a classifier on a (small) labelled image set: the evaluation protocol and DM warm start."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .augment import apply, sample_params
from .models import autocast, compiled

__all__ = ["train_classifier", "train_classifiers_batched", "predict"]


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
    precision: str = "fp32",
    compile: bool = False,
) -> nn.Module:
    """Minimise cross-entropy of ``net`` on (images (N, C, H, W), labels (N,)) with SGD.

    Each epoch visits the set once in a random order, in batches of ``batch_size``; with ``dsa``
    every image gets its own random augmentation draw. With ``lr_decay`` the lr drops ×0.1 at
    ``epochs // 2`` (the DD evaluation protocol). ``images`` are detached: the net is trained, not S.
    ``precision="bf16"`` (autocast; loss and weights stay fp32) and ``compile`` are the speed levers
    of the DM warm start; the evaluation protocol uses neither.
    """
    images, labels = images.detach(), labels.detach()
    with torch.enable_grad():  # callers may sit inside no_grad (e.g. a dashboard refresh)
        return _fit(net, images, labels, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                    batch_size=batch_size, dsa=dsa, lr_decay=lr_decay, generator=generator,
                    precision=precision, compile=compile)


def epoch_lr(lr: float, epoch: int, epochs: int, lr_decay: bool) -> float:
    """The evaluation protocol's step schedule: ``lr``, then ``lr × 0.1`` from ``epochs // 2`` on."""
    return lr * 0.1 if lr_decay and 0 < epochs // 2 <= epoch else lr


def _fit(net, images, labels, *, epochs, lr, momentum, weight_decay, batch_size, dsa, lr_decay, generator,
         precision, compile):
    net.train()
    forward = compiled(net) if compile else net
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n = images.shape[0]
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = epoch_lr(lr, epoch, epochs, lr_decay)
        order = torch.randperm(n, generator=generator, device=images.device)  # (N,)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = images[idx]  # (B, C, H, W)
            if dsa:
                x = apply(x, sample_params(x.shape[0], generator=generator, device=x.device))
            with autocast(x.device, precision):
                logits = forward(x)
            loss = F.cross_entropy(logits.float(), labels[idx])
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


def train_classifiers_batched(
    nets: list[nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    generators: list[torch.Generator],
    epochs: int,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 256,
    dsa: bool = True,
    lr_decay: bool = True,
) -> list[nn.Module]:
    """Train several networks of one architecture *together*, each exactly as ``train_classifier``
    would with its own generator: the same data order, augmentation draws and SGD update, but one
    vmapped forward/backward for all models (``torch.func``) instead of one per model.

    ``nets``: K initialised networks (instance norm or no norm: batch-norm buffers can't be vmapped);
    ``generators``: K generators, one per network. Returns ``nets`` with the trained weights.
    """
    from torch.func import functional_call, stack_module_state, vmap

    if len(nets) != len(generators) or not nets:
        raise ValueError(f"need one generator per network; got {len(nets)} nets, {len(generators)} generators")
    if any(isinstance(m, nn.BatchNorm2d) for m in nets[0].modules()):
        raise ValueError("batched training needs instancenorm or no norm (batch-norm buffers can't be vmapped)")
    images, labels = images.detach(), labels.detach()
    k, n = len(nets), images.shape[0]
    params, buffers = stack_module_state(nets)  # each (K, ...)
    base = nets[0]

    def logits(p, b, x):
        return functional_call(base, (p, b), (x,))

    forward = vmap(logits)
    names = list(params)
    plist = [params[m] for m in names]
    vlist = [torch.zeros_like(p) for p in plist]  # momentum buffers
    for net in nets:
        net.train()
    with torch.enable_grad():
        for epoch in range(epochs):
            step_lr = epoch_lr(lr, epoch, epochs, lr_decay)
            orders, draws = [], []
            for g in generators:  # randomness only: the same draws, in the same order, as train_classifier
                order = torch.randperm(n, generator=g, device=images.device)
                orders.append(order)
                draws.append([sample_params(min(batch_size, n - s), generator=g, device=images.device) if dsa else None
                              for s in range(0, n, batch_size)])
            orders = torch.stack(orders)  # (K, N)
            for b, start in enumerate(range(0, n, batch_size)):
                idx = orders[:, start:start + batch_size]  # (K, B)
                x = images[idx]  # (K, B, C, H, W)
                if dsa:
                    flat = x.flatten(0, 1)  # (K·B, C, H, W)
                    merged = _cat_params([d[b] for d in draws])
                    x = apply(flat, merged).view_as(x)
                out = forward(params, buffers, x)  # (K, B, classes)
                loss = F.cross_entropy(out.flatten(0, 1), labels[idx].flatten(), reduction="none")
                loss = loss.view(k, -1).mean(1).sum()  # each model's mean loss; models are independent
                grads = torch.autograd.grad(loss, plist)
                with torch.no_grad():  # SGD with momentum and weight decay, as torch.optim.SGD: one launch per op
                    d = torch._foreach_add(grads, plist, alpha=weight_decay)
                    torch._foreach_mul_(vlist, momentum)
                    torch._foreach_add_(vlist, d)
                    torch._foreach_add_(plist, vlist, alpha=-step_lr)
    with torch.no_grad():
        for i, net in enumerate(nets):
            for name, p in net.named_parameters():
                p.copy_(params[name][i])
    return nets


def _cat_params(parts):
    from .augment import AugmentParams

    return AugmentParams(*(torch.cat([getattr(p, f) for p in parts]) for f in AugmentParams.__dataclass_fields__))
