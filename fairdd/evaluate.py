"""Train-on-synthetic evaluation (docs/protocol.md): build the training set, train, score.

For each of ``n_models`` fresh ConvNets (initialised from the run's generator): train on the
synthetic set with SGD (lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, lr × 0.1 and a fresh
momentum from the preset's decay epoch; DSA for DM sets, none for DC/IDC/CAFE sets under ``paper``)
(``train_models``), predict the balanced test set (``score``) and collect the answers in a
``FairnessReport`` (accuracy, EOD, DEO_A, worst-group accuracy as mean ± std over the final models,
never the best, with intervals and the noise floor). ``evaluate`` does all three.
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Sequence

import torch
from torch import nn

from .config import EvalConfig, eval_config
from .data import GroupedDataset
from .data.dataset import check_dataset
from .levers import Workload, choose_levers
from .models import ConvNet, reset_parameters
from .provenance import fingerprint_differences
from .report import FairnessReport
from .results import DistillResult
from .validate import (check_bool, check_choice, check_finite, check_int, check_ipc_fits, check_seed,
                       resolve_device, stream_seed)
from .train import predict, train_classifier, train_classifiers_batched

__all__ = ["FairnessReport", "TrainedModels", "evaluate", "random_subset", "score", "test_set_differences",
           "train_models"]

MAX_MODELS = 1000  # evaluation models per call (papers use 5-10); more would only exhaust memory


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedModels:
    """Evaluation networks trained on one training set, and how (``train_models``)."""

    nets: tuple[nn.Module, ...]  # final models, in seed order (model k from generator seed * 1000 + k)
    config: dict  # the EvalConfig used, and under "levers" the speed levers it ran with (fairdd.levers.Levers)
    source: dict  # what was trained on
    seconds: float  # training wall time
    batched: bool  # whether the models were trained together


def random_subset(train: GroupedDataset, *, ipc: int, seed: int = 0) -> DistillResult:
    """Draw the random-real-subset baseline: ``ipc`` real images per class, uniformly.

    Groups appear in their training proportions. ``ipc`` may not exceed the smallest class.
    """
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
    n_models: int | None = None,
    preset: str = "paper",
    method: str | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    keep_models: bool = False,
    batched: bool | str = "auto",
    check_dataset: bool = True,
    **overrides,
) -> FairnessReport:
    r"""Train fresh networks on a training set and score their fairness on the balanced ``test`` set.

    The train-on-synthetic protocol [Zhao2021]_, ``score(train_models(...), test)``: each of M ConvNets
    :math:`f_m` is trained from its own random initialisation on the source :math:`S` and
    scored on the test set :math:`T`,

    .. math::
        \mathrm{TPR}^{(m)}_{a,y} = \frac{1}{n_{y,a}} \sum_{(x, y, a) \in T} [f_m(x) = y], \qquad
        \mathrm{EOD}^{(m)} = 100 \max_y \big(\max_a \mathrm{TPR}^{(m)}_{a,y} - \min_a \mathrm{TPR}^{(m)}_{a,y}\big),

    (equalised opportunity [Hardt2016]_), and every metric is reported as its mean over the M final
    models (never the best), with intervals and the noise floor
    (:class:`~fairdd.report.FairnessReport`).

    Parameters
    ----------
    source : DistillResult or GroupedDataset
        A synthetic set, or a real training set (the whole-data baseline). Images (N, C, H, W),
        labels (N,).
    test : GroupedDataset
        The balanced test set: images (N_test, C, H, W) of the source's shape, labels and groups
        (N_test,).
    n_models, preset, method, seed, device, progress, batched, check_dataset
        As in :func:`train_models`.
    keep_models : bool
        Deprecated: also put the trained networks in ``report.models``. Call :func:`train_models`
        and :func:`score` to keep them instead.
    **overrides
        :class:`~fairdd.config.EvalConfig` fields, e.g. ``epochs=300``.

    Returns
    -------
    FairnessReport
        Every model's right/wrong answer per test sample, and the metrics that follow: ``overall``,
        ``by_group``, ``difference()``, ``bootstrap()``, ``noise_floor()``, ...

    See Also
    --------
    train_models : the training half, which returns the networks.
    score : the scoring half.

    References
    ----------
    .. [Zhao2021] Zhao, Mopuri and Bilen, "Dataset Condensation with Gradient Matching", ICLR 2021
       (the train-on-synthetic protocol, ``evaluate_synset``).
    .. [Hardt2016] Hardt, Price and Srebro, "Equality of Opportunity in Supervised Learning", NeurIPS 2016
       (equalised odds / opportunity).
    """
    check_bool("keep_models", keep_models)
    trained = train_models(source, test, n_models=n_models, preset=preset, method=method, seed=seed,
                           device=device, progress=progress, batched=batched, check_dataset=check_dataset, **overrides)
    report = score(trained, test)
    if keep_models:
        warnings.warn("evaluate(keep_models=True) is deprecated: use trained = train_models(...); "
                      "report = score(trained, test); trained.nets", DeprecationWarning, stacklevel=2)
        report = dataclasses.replace(report, models=trained.nets)
    return report


def score(trained: TrainedModels, test: GroupedDataset) -> FairnessReport:
    """Predict the ``test`` set with every trained model and collect the answers in a report.

    Parameters
    ----------
    trained : TrainedModels
        M networks from :func:`train_models`, all on one device.
    test : GroupedDataset
        Test images (N, C, H, W), labels (N,) and groups (N,); every (class, group) cell non-empty.

    Returns
    -------
    FairnessReport
        ``correct`` (M, N) and each sample's cell (N,); its ``seconds`` count training and scoring.
    """
    if not isinstance(test, GroupedDataset):
        raise ValueError(f"test must be a GroupedDataset; got {type(test).__name__}")
    test.check_complete("test set")
    t0 = time.perf_counter()
    dev = next(trained.nets[0].parameters()).device
    test_x = test.images.to(dev)
    pred = torch.stack([predict(net, test_x) for net in trained.nets])  # (M, N)
    return FairnessReport.from_predictions(
        pred, test.labels.to(dev), test.groups.to(dev), class_names=test.class_names, group_names=test.group_names,
        config=trained.config, source=trained.source, seconds=trained.seconds + time.perf_counter() - t0,
        batched=trained.batched)


def train_models(
    source: DistillResult | GroupedDataset,
    test: GroupedDataset,
    *,
    n_models: int | None = None,
    preset: str = "paper",
    method: str | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    batched: bool | str = "auto",
    check_dataset: bool = True,
    models: Sequence[int] | None = None,
    **overrides,
) -> TrainedModels:
    r"""Train ``n_models`` fresh ConvNets on a synthetic or real training set; :func:`score` them next.

    Each model :math:`f_{\theta_m}` starts from its own random initialisation and minimises the
    cross-entropy on the source :math:`S = \{(x_i, y_i)\}_{i=1}^N` by SGD with momentum and weight
    decay, the learning rate × 0.1 from the preset's decay epoch:

    .. math:: \min_{\theta_m} \frac{1}{N} \sum_{i=1}^N \ell\big(f_{\theta_m}(\mathcal{A}(x_i)), y_i\big),

    with :math:`\mathcal{A}` the Siamese augmentation when the protocol uses it (DSA).

    Parameters
    ----------
    source : DistillResult or GroupedDataset
        A synthetic set (its images decoded first, e.g. IDC's) or a real training set: images
        (N, C, H, W), labels (N,).
    test : GroupedDataset
        The test set the networks are shaped for: images (N_test, C, H, W) of the source's shape,
        ``n_classes`` classes.
    n_models : int in [1, 1000] or None
        Evaluation models; None = the preset's (the scripts' ``--num_eval``).
    preset : {"paper", "fairdd-paper", "demo", "smoke"}
        Whose protocol (:func:`~fairdd.config.eval_config`): under ``paper`` DM sets train 1501
        epochs with DSA, DC/IDC/CAFE sets 1001 without augmentation.
    method : {"dm", "dc", "dsa", "idc", "cafe"} or None
        The method the set was distilled with; None = the source's own, else "dm".
    seed : int
        Model k is initialised from generator ``seed * 1000 + k``.
    device : str or torch.device
        ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"``, ...
    progress : bool
        Show a progress bar over models.
    batched : bool or "auto"
        Train the models together as one grouped network (``train_classifiers_batched``); "auto"
        does so on a GPU. One after another, model k is also trained from its own generator;
        together, all models' data orders and augmentations come from generator
        ``seed * 1000 + 999``. The two paths run the same protocol with different draws, so their
        numbers agree within the spread over models, not to the digit.
    check_dataset : bool
        A result's recorded training set must have been built like ``test`` (same dataset, mode,
        groups, severity, size, classes; bias and seed may differ); a ``ValueError`` says what differs.
    models : sequence of int in [0, n_models) or None
        Train only these of the ``n_models`` (one after another): model k is the very network the
        full run trains as its k-th, so a run split into parts (an interrupted one resumed) gives the
        same answers. None = all.
    **overrides
        :class:`~fairdd.config.EvalConfig` fields, e.g. ``epochs=300``. The speed levers
        ``compile=True`` / ``precision="bf16"`` apply to either path; on a CPU one model at a time
        is the faster with them.

    Returns
    -------
    TrainedModels
        The M final networks (``nets``, in seed order), the EvalConfig used, a description of the
        source, the training time and whether the models were batched.

    Raises
    ------
    ValueError
        On a bad argument, non-finite images (source or test), or a test set built unlike the
        source's training set.
    """
    if n_models is not None:
        n_models = check_int("n_models", n_models, 1, MAX_MODELS)
    seed = check_seed(seed)
    for name, value in (("progress", progress), ("check_dataset", check_dataset)):
        check_bool(name, value)
    check_choice("batched", batched, (True, False, "auto"))
    images, labels, desc = training_set(source, test, check_dataset=check_dataset)
    if method is None:
        method = source.config.get("method", "dm") if isinstance(source, DistillResult) else "dm"
    config = eval_config(preset=preset, method=method, **overrides,
                         **({"n_models": n_models} if n_models is not None else {}))
    n_models = config.n_models
    dev = resolve_device(device)
    images, labels = images.to(dev), labels.to(dev)
    c, h, _ = test.image_shape
    picked = _picked_models(models, n_models, batched)
    gens = [torch.Generator(device=dev).manual_seed(stream_seed(seed, k, 1000))  # one per model
            for k in picked]
    nets = [reset_parameters(ConvNet(in_channels=c, n_classes=test.n_classes, width=config.width,
                                     depth=config.depth, norm=config.norm, image_size=h).to(dev), g) for g in gens]
    if batched == "auto":
        batched = dev.type == "cuda" and config.norm != "batchnorm" and n_models > 1 and models is None
    work = Workload(width=config.width, image_size=h, steps=config.epochs * n_models, depth=config.depth,
                    in_channels=c, n_real=0, n_syn=min(config.batch_size, len(images)), train=True,
                    compilations=1 if batched else n_models)  # a step = one batch of an epoch: the saving is under-stated
    levers = choose_levers(dev, precision=config.precision, compile=config.compile, workload=work)
    t0 = time.perf_counter()
    fit = dict(epochs=config.epochs, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
               batch_size=config.batch_size, dsa=config.dsa, decay_epoch=config.decay_epoch,
               precision=levers.precision, compile=levers.compile)
    if batched:
        joint = torch.Generator(device=dev).manual_seed(stream_seed(seed, 999, 1000))
        train_classifiers_batched(nets, images, labels, generator=joint, **fit)
    else:
        for net, g in zip(tqdm_or_range(nets, progress), gens):
            train_classifier(net, images, labels, generator=g, **fit)
    seconds = time.perf_counter() - t0
    return TrainedModels(nets=tuple(nets), config={**config.to_dict(), "levers": levers.as_dict()}, source=desc,
                         seconds=seconds, batched=bool(batched))


def _picked_models(models, n_models: int, batched) -> list[int]:
    """Return the model indices ``train_models`` trains: all, or ``models`` (distinct, in [0, n_models))."""
    if models is None:
        return list(range(n_models))
    if isinstance(models, (str, bytes)) or not all(isinstance(k, int) and not isinstance(k, bool) for k in models):
        raise TypeError(f"models must be a sequence of model indices (int); got {models!r}")
    picked = list(models)
    if not picked or len(set(picked)) != len(picked) or not all(0 <= k < n_models for k in picked):
        raise ValueError(f"models must be distinct indices in [0, {n_models}); got {picked!r}")
    if batched is True:
        raise ValueError("models trains a part of the run one model at a time; it cannot be batched=True")
    return picked


def training_set(source: DistillResult | GroupedDataset, test: GroupedDataset, *, check_dataset: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Give the images (N, C, H, W) and labels (N,) to train evaluation models on, and their origin.

    They are checked against the ``test`` set; the description says where they come from.

    Non-finite images (source or test) are refused. With ``check_dataset`` a result's recorded
    training set must have been built like ``test`` (bias and seed may differ): a ``ValueError``
    says what differs.
    """
    _check_dataset("test", test)
    test.check_complete("test set")
    test.check_finite("test images")
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
    if check_dataset:
        differ = test_set_differences(record, test)
        if differ:
            raise ValueError("the test set was not built like the source's training set: " + "; ".join(differ)
                             + " (pass check_dataset=False to evaluate anyway)")
    if images.shape[1:] != test.images.shape[1:]:
        raise ValueError(f"source images {tuple(images.shape[1:])} and test images "
                         f"{tuple(test.images.shape[1:])} differ in shape")
    if int(labels.max()) >= test.n_classes:
        raise ValueError(f"source has label {int(labels.max())} but the test set has {test.n_classes} classes")
    return images, labels, desc


_check_dataset = check_dataset  # the argument of the same name shadows it in the functions above

# Fingerprint entries that may differ between any training set and its test set (and the knobs its
# record declares train-only: ``DatasetRecord.train_only``).
_SPLIT_FACTS = ("split", "n", "cell_counts", "content_sha256", "seed")


def _train_only(name) -> tuple[str, ...]:
    """Give the knobs dataset ``name`` declares train-only (none for an unregistered name or a folder)."""
    from .data.record import find

    entry = find(name)
    return entry.train_only if entry is not None else ()


def test_set_differences(record: dict, test: GroupedDataset) -> list[str]:
    """List how ``test`` differs from a recorded training set (``GroupedDataset.describe()``).

    What may differ is left out (the split, its sizes and content, ``seed``, and the knobs the
    dataset's record declares train-only: bias, skew...); the list is empty when nothing is known.
    """
    made = record.get("fingerprint") if isinstance(record, dict) else None
    now = test.fingerprint()
    if not isinstance(made, dict):  # results from before fingerprints: compare the names they kept
        made = {k: record.get(k) for k in ("class_names", "group_names") if isinstance(record, dict) and k in record}
        now = {k: now[k] for k in made}
    differ = fingerprint_differences(made, now, ignore=_SPLIT_FACTS + _train_only(now.get("name")))
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
