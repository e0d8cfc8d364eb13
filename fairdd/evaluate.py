"""Train-on-synthetic evaluation (METHOD.md §4) and the ``FairnessReport``.

For each of ``n_models`` fresh ConvNets (initialised from the run's generator): train on the
synthetic set with SGD (lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, lr × 0.1 at E/2, DSA),
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
from .validate import check_bool, check_choice, check_dataset, check_finite, check_int, check_ipc_fits, check_seed
from .train import predict, train_classifier, train_classifiers_batched

__all__ = ["FairnessReport", "evaluate", "random_subset", "test_set_differences"]

_SCALARS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")
MAX_MODELS = 1000  # evaluation models per call (papers use 5-10); more would only exhaust memory


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
    appear in their training proportions). ``ipc`` may not exceed the smallest class."""
    check_dataset("train", train)
    ipc, seed = check_int("ipc", ipc, 1), check_seed(seed)
    check_ipc_fits(ipc, torch.bincount(train.labels, minlength=train.n_classes).cpu(), train.class_names)
    train.check_finite("training images")
    gen = torch.Generator(device=train.labels.device).manual_seed(seed)
    idx = train.sample_batch(ipc, generator=gen)
    return DistillResult(
        images=train.images[idx].detach().cpu().clone(), labels=train.labels[idx].cpu().clone(),
        config={"baseline": "random", "ipc": ipc, "seed": seed}, dataset=train.describe(),
    )


def evaluate(
    source: DistillResult | GroupedDataset,
    test: GroupedDataset,
    *,
    n_models: int = 5,
    preset: str = "paper",
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    keep_models: bool = False,
    batched: bool | str = "auto",
    check_dataset: bool = True,
    **overrides,
) -> FairnessReport:
    """Evaluate a synthetic set (``DistillResult``) or a real training set (``GroupedDataset``, the
    whole-data baseline) on the balanced ``test`` set.

    ``**overrides`` are ``EvalConfig`` fields (e.g. ``epochs=300``). With ``keep_models`` the
    trained networks are returned in ``report.models`` (the dashboard embeds with them).
    ``batched`` trains the models together (one grouped network, ``train_classifiers_batched``);
    "auto" does so on a GPU. Model k is initialised from generator ``seed * 1000 + k`` either way;
    one after another it is also trained from that generator, together all models' data orders and
    augmentations come from generator ``seed * 1000 + 999`` (``train.epoch_batches``). The two paths
    run the same protocol with different random draws, so their numbers agree within the spread over
    models, not to the digit. The speed levers ``compile=True`` / ``precision="bf16"`` (EvalConfig
    fields, off by default) apply to either path; on a CPU one model at a time is the faster with them.

    Non-finite images (source or test) are refused. With ``check_dataset`` (default) a result's
    recorded training set must have been built like ``test`` (same dataset, mode, groups, severity,
    size, classes; bias and seed may differ): a ``ValueError`` says what differs.
    """
    strict = check_dataset
    n_models = check_int("n_models", n_models, 1, MAX_MODELS)
    _check_dataset("test", test)
    seed = check_seed(seed)
    for name, value in (("progress", progress), ("keep_models", keep_models), ("check_dataset", strict)):
        check_bool(name, value)
    check_choice("batched", batched, (True, False, "auto"))
    test.check_complete("test set")
    test.check_finite("test images")
    config = eval_config(preset=preset, **overrides)
    dev = resolve_device(device)
    if isinstance(source, DistillResult):
        images, labels = source.training_set()
        check_finite("source (synthetic) images", images)
        desc = {"kind": "synthetic", **_short(source.config)}
        record = source.dataset
    elif isinstance(source, GroupedDataset):
        source.check_finite("source (training) images")
        images, labels, desc = source.images, source.labels, {"kind": "real", "n": len(source), **source.info}
        record = source.describe()
    else:
        raise ValueError(f"source must be a DistillResult or GroupedDataset; got {type(source).__name__}")
    if len(labels) == 0 or int(labels.min()) < 0:
        raise ValueError(f"source labels must be non-empty and >= 0; got {len(labels)} labels")
    if strict:
        differ = test_set_differences(record, test)
        if differ:
            raise ValueError("the test set was not built like the source's training set: " + "; ".join(differ)
                             + " (pass check_dataset=False to evaluate anyway)")
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
               batch_size=config.batch_size, dsa=config.dsa)
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


_check_dataset = check_dataset  # the argument of the same name shadows it inside evaluate

# Fingerprint entries that may differ between a training set and its test set.
_TRAIN_ONLY = ("split", "n", "cell_counts", "content_sha256", "bias", "seed", "group_noise", "group_labels")


def test_set_differences(record: dict, test: GroupedDataset) -> list[str]:
    """How ``test`` differs from a recorded training set (``GroupedDataset.describe()``), beyond what
    may differ (the split, its sizes and content, ``bias``, ``seed``). Empty when nothing is known."""
    from .distill import fingerprint_differences

    made = record.get("fingerprint") if isinstance(record, dict) else None
    now = test.fingerprint()
    if not isinstance(made, dict):  # results from before fingerprints: compare the names they kept
        made = {k: record.get(k) for k in ("class_names", "group_names") if isinstance(record, dict) and k in record}
        now = {k: now[k] for k in made}
    differ = fingerprint_differences(made, now, ignore=_TRAIN_ONLY)
    if now.get("split") == "train":
        differ.append("split 'train' (a test set is the balanced 'test' split)")
    return differ


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
