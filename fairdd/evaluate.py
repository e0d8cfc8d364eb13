"""Train-on-synthetic evaluation (docs/protocol.md) and the ``FairnessReport``.

For each of ``n_models`` fresh ConvNets (initialised from the run's generator): train on the
synthetic set with SGD (lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, lr × 0.1 and a fresh
momentum from the preset's decay epoch; DSA for DM sets, none for DC/IDC/CAFE sets under ``paper``),
predict the balanced test set, compute accuracy, EOD, DEO_A and worst-group accuracy; report the
mean ± std over models (final models, never the best).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import EvalConfig, eval_config
from .data import GroupedDataset
from .distill import resolve_device
from .metrics import group_metrics
from .models import ConvNet, reset_parameters
from .results import DistillResult
from .train import predict, train_classifier, train_classifiers_batched

__all__ = ["FairnessReport", "evaluate", "random_subset"]

_SCALARS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")


@dataclass
class FairnessReport:
    """Mean over evaluation models of each metric (percent), with stds and the per-cell table.

    ``by_group``: a DataFrame with one row per (class, group): accuracy (mean, std over models, %)
    and the number of test samples. ``per_model``: each model's scalar metrics.
    """

    accuracy: float
    eod: float
    deo_a: float
    worst_group_accuracy: float
    std: dict
    by_group: "object"
    per_model: list[dict]
    config: dict
    source: dict
    seconds: float
    tpr: torch.Tensor = field(repr=False, default=None)  # (n_models, C, G)
    models: list = field(repr=False, default_factory=list)  # trained nets, only with keep_models=True
    batched: bool = False  # whether the models were trained together

    @property
    def overall(self) -> dict:
        return {k: getattr(self, k) for k in _SCALARS}

    def to_dict(self) -> dict:
        return {**self.overall, "std": dict(self.std), "per_model": self.per_model, "seconds": self.seconds,
                "config": self.config, "source": self.source}

    def save(self, path) -> "Path":
        """Write the report as JSON (atomically), the (class, group) table included."""
        from .io import write_json

        return write_json(path, {**self.to_dict(), "by_group": self.by_group.to_dict(orient="records")})

    def summary(self) -> str:
        return " | ".join(f"{k} {getattr(self, k):.2f} ± {self.std[k]:.2f}" for k in _SCALARS)


def random_subset(train: GroupedDataset, *, ipc: int, seed: int = 0) -> DistillResult:
    """The random-real-subset baseline: ``ipc`` real images per class drawn uniformly (so groups
    appear in their training proportions)."""
    gen = torch.Generator(device=train.labels.device).manual_seed(seed)
    idx = train.sample_batch(ipc, generator=gen)
    return DistillResult(
        images=train.images[idx].detach().cpu().clone(), labels=train.labels[idx].cpu().clone(),
        config={"baseline": "random", "ipc": ipc, "seed": seed},
        dataset=dict(class_names=list(train.class_names), group_names=list(train.group_names),
                     mean=list(train.mean), std=list(train.std), info=train.info),
    )


def evaluate(
    source: DistillResult | GroupedDataset,
    test: GroupedDataset,
    *,
    n_models: int | None = None,
    preset: str = "paper",
    method: str | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    keep_models: bool = False,
    batched: bool | str = "auto",
    **overrides,
) -> FairnessReport:
    """Evaluate a synthetic set (``DistillResult``) or a real training set (``GroupedDataset``, the
    whole-data baseline) on the balanced ``test`` set.

    The protocol is the ``preset``'s for sets distilled with ``method`` (default: the source's own
    method, else "dm"): under ``paper`` DM sets train 1501 epochs with DSA, DC/IDC/CAFE sets 1001
    without augmentation (``eval_config``). ``n_models`` defaults to the preset's (the scripts'
    ``--num_eval``). ``**overrides`` are ``EvalConfig`` fields (e.g. ``epochs=300``). With ``keep_models`` the
    trained networks are returned in ``report.models`` (the dashboard embeds with them).
    ``batched`` trains the models together (one grouped network, ``train_classifiers_batched``);
    "auto" does so on a GPU. Model k is initialised from generator ``seed * 1000 + k`` either way;
    one after another it is also trained from that generator, together all models' data orders and
    augmentations come from generator ``seed * 1000 + 999`` (``train.epoch_batches``). The two paths
    run the same protocol with different random draws, so their numbers agree within the spread over
    models, not to the digit. The speed levers ``compile=True`` / ``precision="bf16"`` (EvalConfig
    fields, off by default) apply to either path; on a CPU one model at a time is the faster with them.
    """
    if n_models is not None and (isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1):
        raise ValueError(f"n_models must be an integer >= 1; got {n_models!r}")
    if not isinstance(test, GroupedDataset):
        raise ValueError(f"test must be a GroupedDataset; got {type(test).__name__}")
    test.check_complete("test set")
    if method is None:
        method = source.config.get("method", "dm") if isinstance(source, DistillResult) else "dm"
    config = eval_config(preset=preset, method=method, **overrides,
                         **({"n_models": n_models} if n_models is not None else {}))
    n_models = config.n_models
    dev = resolve_device(device)
    if isinstance(source, DistillResult):
        images, labels = source.training_set()
        desc = {"kind": "synthetic", **_short(source.config)}
    elif isinstance(source, GroupedDataset):
        images, labels, desc = source.images, source.labels, {"kind": "real", "n": len(source), **source.info}
    else:
        raise ValueError(f"source must be a DistillResult or GroupedDataset; got {type(source).__name__}")
    if images.shape[1:] != test.images.shape[1:]:
        raise ValueError(f"source images {tuple(images.shape[1:])} and test images "
                         f"{tuple(test.images.shape[1:])} differ in shape")
    if int(labels.max()) >= test.n_classes:
        raise ValueError(f"source has label {int(labels.max())} but the test set has {test.n_classes} classes")
    images, labels = images.to(dev), labels.to(dev)
    test_x, test_y, test_g = test.images.to(dev), test.labels.to(dev), test.groups.to(dev)
    c, h, _ = test.image_shape
    gens = [torch.Generator(device=dev).manual_seed(seed * 1000 + k) for k in range(n_models)]  # one per model
    nets = [reset_parameters(ConvNet(in_channels=c, n_classes=test.n_classes, width=config.width,
                                     depth=config.depth, norm=config.norm, image_size=h).to(dev), g) for g in gens]
    if batched == "auto":
        batched = dev.type == "cuda" and config.norm != "batchnorm" and n_models > 1
    t0 = time.perf_counter()
    fit = dict(epochs=config.epochs, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
               batch_size=config.batch_size, dsa=config.dsa, decay_epoch=config.decay_epoch)
    if batched:
        joint = torch.Generator(device=dev).manual_seed(seed * 1000 + 999)
        train_classifiers_batched(nets, images, labels, generator=joint, precision=config.precision,
                                  compile=config.compile, **fit)
    else:
        models = tqdm_or_range(nets, progress)
        for net, g in zip(models, gens):
            train_classifier(net, images, labels, generator=g, precision=config.precision, compile=config.compile,
                             **fit)
    per_model, tprs = [], []
    for net in nets:
        m = group_metrics(predict(net, test_x), test_y, test_g, n_classes=test.n_classes, n_groups=test.n_groups)
        per_model.append({k: getattr(m, k) for k in _SCALARS})
        tprs.append(m.tpr)
        counts = m.counts
    seconds = time.perf_counter() - t0
    tpr = torch.stack(tprs)  # (n_models, C, G)
    return FairnessReport(
        **{k: float(torch.tensor([p[k] for p in per_model]).mean()) for k in _SCALARS},
        std={k: float(torch.tensor([p[k] for p in per_model]).std(unbiased=False)) for k in _SCALARS},
        by_group=_by_group(tpr, counts, test), per_model=per_model, config=config.to_dict(), source=desc,
        seconds=seconds, tpr=tpr, models=nets if keep_models else [], batched=bool(batched),
    )


def tqdm_or_range(items, progress: bool):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="evaluate")


def _short(config: dict) -> dict:
    keys = ("method", "target", "ipc", "iterations", "preset", "seed", "baseline")
    return {k: config[k] for k in keys if k in config}


def _by_group(tpr: torch.Tensor, counts: torch.Tensor, test: GroupedDataset):
    import pandas as pd

    n_c, n_g = counts.shape
    return pd.DataFrame({
        "class": [test.class_names[c] for c in range(n_c) for _ in range(n_g)],
        "group": [test.group_names[g] for _ in range(n_c) for g in range(n_g)],
        "accuracy": (100 * tpr.mean(0)).flatten().tolist(),
        "accuracy_std": (100 * tpr.std(0, unbiased=False)).flatten().tolist(),
        "count": counts.flatten().tolist(),
    })
