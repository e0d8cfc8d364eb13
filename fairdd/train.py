"""Training a classifier on a (small) labelled image set: the evaluation protocol and DM warm start."""
from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .augment import OPS, apply, sample_params
from .levers import autocast, compile_mode, compiled, inductor_cache_dir
from .models import ConvNet, cpu_chunk
from .stacked import layer_plan, run_plan

__all__ = ["train_classifier", "train_classifiers_batched", "epoch_batches", "predict", "stop_when", "Stopped"]

_stop = threading.local()  # this thread's ``stop_when`` check


class Stopped(RuntimeError):
    """Training stopped before a batch because its thread's ``stop_when`` check returned True."""


@contextlib.contextmanager
def stop_when(check: Callable[[], bool]):
    """Make training in this thread raise ``Stopped`` before its next batch once ``check()`` returns True.

    For training whose result may stop being wanted while it runs (the dashboard's background proxy
    evaluations, ``fairdd.widgets.background``). ``check`` is called once per batch, so it must be cheap.
    """
    previous = getattr(_stop, "check", None)
    _stop.check = check
    try:
        yield
    finally:
        _stop.check = previous


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
    decay_epoch: int | None = None,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
    compile: bool | str = False,
) -> nn.Module:
    """Minimise cross-entropy of ``net`` on (images (N, C, H, W), labels (N,)) with SGD.

    Each epoch visits the set once in a random order, in batches of ``batch_size``; with ``dsa`` each
    batch draws one augmentation family and every image its own parameters within it, as the
    reference's ``DiffAugment`` does outside distillation (``epoch_batches``: drawn and applied for
    blocks of epochs at once). With ``lr_decay`` the lr drops ×0.1 from epoch ``decay_epoch``
    (default ``epochs // 2``) and the momentum restarts there, as the reference re-creates its
    optimiser. ``images`` are detached: the net is trained, not S.
    ``precision="bf16"`` (autocast; loss and weights stay fp32) and ``compile`` are speed levers,
    off by default (``DistillConfig``/``EvalConfig`` fields of the same names).
    """
    images, labels = images.detach(), labels.detach()
    with torch.enable_grad():  # callers may sit inside no_grad (e.g. a dashboard refresh)
        return _fit(net, images, labels, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                    batch_size=batch_size, dsa=dsa, lr_decay=lr_decay, decay_epoch=decay_epoch, generator=generator,
                    precision=precision, compile=compile)


def epoch_lr(lr: float, epoch: int, epochs: int, lr_decay: bool, decay_epoch: int | None = None) -> float:
    """Return the evaluation protocol's lr at ``epoch``.

    ``lr``, then ``lr × 0.1`` from ``decay_epoch`` (default ``epochs // 2``; never at epoch 0) on.
    """
    return lr * 0.1 if lr_decay and 0 < decay_start(epochs, decay_epoch) <= epoch else lr


def decay_start(epochs: int, decay_epoch: int | None) -> int:
    """Return the first epoch at the decayed lr."""
    return epochs // 2 if decay_epoch is None else decay_epoch


def _fit(net, images, labels, *, epochs, lr, momentum, weight_decay, batch_size, dsa, lr_decay, decay_epoch,
         generator, precision, compile):
    net.train()
    forward = compiled(net, "forward", compile) if compile else net
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                          foreach=True)  # one launch per op for all tensors, as on a GPU by default
    for epoch, x, y in epoch_batches(images, labels, models=1, epochs=epochs, batch_size=batch_size, dsa=dsa,
                                     generator=generator):
        step_lr = epoch_lr(lr, epoch, epochs, lr_decay, decay_epoch)
        if step_lr != opt.param_groups[0]["lr"]:  # the decay: a new optimiser in the reference, so no momentum
            opt.state.clear()
        for group in opt.param_groups:
            group["lr"] = step_lr
        with autocast(x.device, precision):
            logits = forward(x[0])
        loss = F.cross_entropy(logits.float(), y[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net


AUG_BLOCK = 8192  # images whose order and augmentation are drawn, gathered and augmented in one go


def epoch_batches(images: torch.Tensor, labels: torch.Tensor, *, models: int, epochs: int, batch_size: int,
                  dsa: bool, generator: torch.Generator | None) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield the training protocol's batches for ``models`` networks at once.

    Each item is ``(epoch, x, y)`` with x (models, B, C, H, W) and y (models, B), batch by batch,
    epoch by epoch.

    In every epoch each model visits the set once in its own random order, in batches of
    ``batch_size``; with ``dsa`` each batch draws one op family and each image its own parameters. The
    draws are made for a block of epochs at a time — ``max(1, AUG_BLOCK // (models · N))`` of them: one
    call for the orders, one for the augmentations — and, when the block fits in ``AUG_BLOCK`` images,
    gathered and augmented in one pass, so a batch is then a view. The block size depends only on the
    set size and the number of models, so the stream is the same on every device. Under ``stop_when``
    it raises ``Stopped`` before a batch once the check says so.
    """
    n, dev, check = images.shape[0], images.device, getattr(_stop, "check", None)
    if n == 0:
        return
    per_block = max(1, AUG_BLOCK // (models * n))
    for e0 in range(0, epochs, per_block):
        eb = min(per_block, epochs - e0)
        order = torch.rand(eb, models, n, generator=generator, device=dev).argsort(-1)  # (eb, models, N)
        params = None
        if dsa:  # one op family per (epoch, model, batch), each image its own parameters: row (e, m, i)
            n_batches = -(-n // batch_size)
            family = torch.randint(len(OPS), (eb, models, n_batches), generator=generator, device=dev)
            family = family.repeat_interleave(batch_size, dim=-1)[..., :n]  # (eb, models, N)
            params = sample_params(eb * models * n, generator=generator, device=dev, op=family.flatten())
        y_all = labels[order]  # (eb, models, N)
        whole = eb * models * n <= AUG_BLOCK
        if whole:  # gather and augment the block in one pass
            x_all = images[order]  # (eb, models, N, C, H, W)
            if dsa:
                x_all = apply(x_all.flatten(0, 2), params).view_as(x_all)
        for e in range(eb):
            for start in range(0, n, batch_size):
                if check is not None and check():
                    raise Stopped(f"training stopped before epoch {e0 + e} (its stop_when check returned True)")
                stop = min(start + batch_size, n)
                if whole:
                    x = x_all[e, :, start:stop]
                else:  # a large set: gather and augment batch by batch
                    x = images[order[e, :, start:stop]]  # (models, B, C, H, W)
                    if dsa:
                        rows = ((e * models + torch.arange(models, device=dev)).unsqueeze(1) * n
                                + torch.arange(start, stop, device=dev)).flatten()  # (models · B,)
                        x = apply(x.flatten(0, 1), params, rows).view_as(x)
                yield e0 + e, x, y_all[e, :, start:stop]


@torch.no_grad()
@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Predicted class of every image, (N,) long, in eval mode and without autograd.

    On CPU a ``ConvNet``'s features are computed in cache-sized chunks (``fairdd.models.cpu_chunk``) and its
    classifier on ``batch_size`` rows at a time as before: the same logits to the bit, 2× faster at width 16.
    """
    net.eval()
    out = [_logits(net, images[i:i + batch_size]).argmax(1) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=images.device)


def _logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.device.type != "cpu" or not isinstance(net, ConvNet):
        return net(x)
    chunk = cpu_chunk(net, x.shape[-2:])
    return net.classifier(torch.cat([net.embed(x[j:j + chunk]) for j in range(0, x.shape[0], chunk)]))


def train_classifiers_batched(
    nets: list[nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    generator: torch.Generator | None,
    epochs: int,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 256,
    dsa: bool = True,
    lr_decay: bool = True,
    decay_epoch: int | None = None,
    precision: str = "fp32",
    compile: bool | str = False,
) -> list[nn.Module]:
    """Train several networks of one architecture *together*.

    The protocol of ``train_classifier`` (each model visits the set in its own random order with its own
    augmentation draws, SGD with momentum and weight decay, the same lr schedule) as one grouped
    forward/backward (``stacked_forward``) and one update for all models.

    The data orders and augmentations of all models come from ``generator`` in two calls per block
    of epochs (``epoch_batches``), so the number of launches per step does not grow with the number
    of models. Model k sees other draws than ``train_classifier`` with its own generator would give
    it; trained alone on the batches it is given here, it reaches the same weights up to rounding (tested).

    ``nets``: K initialised ``ConvNet``s of one architecture (instance norm or no norm).
    ``precision`` / ``compile``: the levers of ``train_classifier`` (bf16 autocast; torch.compile of
    the grouped forward, once per process and shape). Returns ``nets`` with the trained weights.
    """
    if not nets:
        raise ValueError("need at least one network to train")
    if any(isinstance(m, nn.BatchNorm2d) for m in nets[0].modules()):
        raise ValueError("batched training needs instancenorm or no norm (batch norm pools over the batch)")
    images, labels = images.detach(), labels.detach()
    k = len(nets)
    named = [dict(net.named_parameters()) for net in nets]
    names = list(named[0])
    with torch.no_grad():
        params = {m: torch.stack([p[m] for p in named]) for m in names}  # (K, ...)
    plist = [params[m].requires_grad_(True) for m in names]
    vlist = [torch.zeros_like(p) for p in plist]  # momentum buffers
    plan = layer_plan(nets[0])
    forward = _compiled_plan(compile) if compile else run_plan
    for net in nets:
        net.train()
    restart_at = decay_start(epochs, decay_epoch) if lr_decay and decay_start(epochs, decay_epoch) > 0 else -1
    current = -1
    with torch.enable_grad():
        for epoch, x, y in epoch_batches(images, labels, models=k, epochs=epochs, batch_size=batch_size, dsa=dsa,
                                         generator=generator):
            with autocast(x.device, precision):
                out = forward(plan, params, x)  # (K, B, classes): one grouped network (stacked_forward)
            loss = F.cross_entropy(out.float().flatten(0, 1), y.flatten(), reduction="none")
            loss = loss.view(k, -1).mean(1).sum()  # each model's mean loss; models are independent
            grads = torch.autograd.grad(loss, plist)
            with torch.no_grad():  # SGD with momentum and weight decay, as torch.optim.SGD: one launch per op
                d = torch._foreach_add(grads, plist, alpha=weight_decay)
                torch._foreach_mul_(vlist, momentum)
                torch._foreach_add_(vlist, d)
                if epoch == restart_at and epoch != current:  # the decay: momentum restarts, as in _fit
                    torch._foreach_zero_(vlist)
                    torch._foreach_add_(vlist, d)
                current = epoch
                torch._foreach_add_(plist, vlist, alpha=-epoch_lr(lr, epoch, epochs, lr_decay, decay_epoch))
    with torch.no_grad():
        for i, own in enumerate(named):
            for name, p in own.items():
                p.copy_(params[name][i])
    return nets


@functools.lru_cache(maxsize=4)
def _compiled_plan(mode: bool | str):
    """Return ``run_plan`` under torch.compile, built once per process.

    It takes the architecture as plain values, so new networks of a seen architecture and shape
    reuse the compiled code.
    """
    inductor_cache_dir()  # one Inductor cache per ISA setting (torch 2.13 mixes them up)
    return torch.compile(run_plan, dynamic=False, mode=compile_mode(mode))
