"""Fairness metrics over a (class × group) accuracy table (docs/method.md, "Metrics"), their bootstrap and noise floor.

With TPR_{a,y} the accuracy on test samples of class y and group a:

    EOD = DEO_M = 100 · max_y (max_a TPR_{a,y} − min_a TPR_{a,y})
    DEO_A       = 100 · mean_y (max_a TPR_{a,y} − min_a TPR_{a,y})

accuracy is overall (sample-weighted); worst-group accuracy is the lowest accuracy of a protected
group over all its test samples (classes pooled). All values are percentages.

A fairness metric that the test set cannot measure is undefined, never 0 ("perfectly fair"): EOD and
DEO_A need every class to have test images of every group (a missing cell hides that group's rate,
and one group has nothing to compare with), worst-group accuracy needs at least two groups, each with
test images. ``unmeasurable`` says why, per metric; the values are then NaN, and reports and tables
show "undefined (<why>)".

EOD is a maximum of differences of noisy cell accuracies, so it is biased upward on a finite test
set: a model that treats every group of a class exactly alike (every cell's hits ~ Binomial(n_{y,a},
p_y)) still scores EOD > 0. ``noise_floor`` gives that expected score, exactly (balanced cells) or by
simulation; ``bootstrap_metrics`` resamples test samples within each (class, group) cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .ops import cell_counts, cell_index
from .validate import check_int, check_seed

__all__ = ["GroupMetrics", "group_metrics", "cell_index", "metrics_from_hits", "bootstrap_metrics",
           "noise_floor", "unmeasurable", "SCALARS", "FAIRNESS"]

SCALARS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")
FAIRNESS = ("eod", "deo_a", "worst_group_accuracy")  # the metrics that compare groups


def unmeasurable(counts: torch.Tensor, class_names=None, group_names=None) -> dict[str, str]:
    """Why each fairness metric cannot be measured on a test set with these cell sizes (``{}``: all can).

    Parameters
    ----------
    counts : torch.Tensor, shape (C, G)
        Test samples per (class, group) cell.
    class_names, group_names : sequence of str, optional
        Names for the reasons (default: the ids).

    Returns
    -------
    dict of str to str
        Keyed by the undefined metrics of ``FAIRNESS``, e.g. ``{"eod": "1 group in the test set", ...}``.
    """
    counts = torch.as_tensor(counts).cpu()
    n_classes, n_groups = counts.shape
    cname = (lambda c: repr(class_names[c])) if class_names is not None else str
    gname = (lambda g: repr(group_names[g])) if group_names is not None else str
    groups_seen = int((counts.sum(0) > 0).sum())
    if groups_seen < 2:
        why = f"{groups_seen} group{'s' if groups_seen != 1 else ''} in the test set"
        return dict.fromkeys(FAIRNESS, why)
    out = {}
    absent = (counts.sum(0) == 0).nonzero().flatten().tolist()
    if absent:
        out["worst_group_accuracy"] = f"no test image of group {gname(absent[0])}" + (
            f" and {len(absent) - 1} more" if len(absent) > 1 else "")
    per_class = (counts > 0).sum(1)  # (C,) groups with test images, per class
    thin = (per_class < 2).nonzero().flatten().tolist()
    empty = (counts == 0).nonzero().tolist()
    if thin:
        c = thin[0]
        why = f"class {cname(c)} has test images of {int(per_class[c])} group{'s' if per_class[c] != 1 else ''}"
        why += f" (and {len(thin) - 1} more such classes)" if len(thin) > 1 else ""
    elif empty:
        c, g = empty[0]
        why = f"no test image in cell ({cname(c)}, {gname(g)})"
        why += f" and {len(empty) - 1} more" if len(empty) > 1 else ""
    else:
        return out
    return {"eod": why, "deo_a": why, **out}


@dataclass(frozen=True)
class GroupMetrics:
    """One model's metrics on one test set (``group_metrics``); scalars in percent.

    Attributes
    ----------
    accuracy, eod, deo_a, worst_group_accuracy : float
        The metrics of the module docstring, in percent (NaN where undefined: ``undefined`` says why).
    tpr : torch.Tensor, shape (C, G), float32
        Accuracy per (class, group) cell in [0, 1] (0 for an empty cell).
    counts : torch.Tensor, shape (C, G), int64
        Test samples per cell.
    undefined : dict of str to str
        The metrics this test set cannot measure, and why (``unmeasurable``).
    """

    accuracy: float
    eod: float
    deo_a: float
    worst_group_accuracy: float
    tpr: torch.Tensor  # (C, G) accuracy per cell in [0, 1]
    counts: torch.Tensor  # (C, G) test samples per cell
    undefined: dict = field(default_factory=dict)  # metric -> why the test set cannot measure it


def group_metrics(pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, *,
                  n_classes: int, n_groups: int) -> GroupMetrics:
    r"""Score one model's predictions: accuracy, EOD, DEO_A and worst-group accuracy.

    With :math:`\mathrm{TPR}_{a,y}` the fraction of test samples of class :math:`y` and group
    :math:`a` predicted right,

    .. math::
        \mathrm{EOD} = 100 \max_y \big(\max_a \mathrm{TPR}_{a,y} - \min_a \mathrm{TPR}_{a,y}\big),
        \qquad
        \mathrm{DEO_A} = 100\, \frac{1}{C} \sum_y \big(\max_a \mathrm{TPR}_{a,y} - \min_a \mathrm{TPR}_{a,y}\big).

    (equalised opportunity [Hardt2016]_; DEO_M and DEO_A in FairDD's notation [Zhou2024]_). A metric
    the test set cannot measure (one group, a class or cell without test images: ``unmeasurable``) is
    NaN, never 0.

    Parameters
    ----------
    pred : torch.Tensor, shape (N,), int64
        Predicted class of every test sample.
    labels : torch.Tensor, shape (N,), int64
        True class in [0, n_classes).
    groups : torch.Tensor, shape (N,), int64
        Protected group in [0, n_groups).
    n_classes, n_groups : int
        C and G, the table's size.

    Returns
    -------
    GroupMetrics
        The four scalars (percent) and the (C, G) accuracy and count tables.

    References
    ----------
    .. [Hardt2016] Hardt, Price and Srebro, "Equality of Opportunity in Supervised Learning", NeurIPS 2016.
    .. [Zhou2024] Zhou et al., "FairDD: Fair Dataset Distillation", NeurIPS 2025
       (DEO_M, written EOD here, and DEO_A on distilled sets).
    """
    if not (pred.shape == labels.shape == groups.shape):
        raise ValueError(f"pred, labels and groups need one shape; got {tuple(pred.shape)}, "
                         f"{tuple(labels.shape)}, {tuple(groups.shape)}")
    correct = (pred == labels).double()  # (N,)
    cell = cell_index(labels, groups, n_groups)  # (N,)
    counts = cell_counts(cell, n_classes, n_groups).double()
    hits = torch.zeros(n_classes * n_groups, dtype=torch.float64, device=pred.device).index_add_(0, cell, correct)
    hits = hits.view(n_classes, n_groups)
    m = metrics_from_hits(hits, counts)
    return GroupMetrics(**{k: float(v) for k, v in m.items()},
                        tpr=(hits / counts.clamp(min=1)).float().cpu(), counts=counts.long().cpu(),
                        undefined=unmeasurable(counts))


def metrics_from_hits(hits: torch.Tensor, counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Compute accuracy, EOD, DEO_A and worst-group accuracy (percent) from correct predictions per cell.

    Parameters
    ----------
    hits : torch.Tensor, shape (..., C, G)
        Correct predictions per (class, group) cell, with any leading batch dimensions (models,
        bootstrap resamples).
    counts : torch.Tensor, shape (C, G)
        Test samples per cell. Empty cells are left out of the gaps.

    Returns
    -------
    dict of str to torch.Tensor, each of shape (...,), float64
        Keyed by ``SCALARS``; NaN where undefined (``unmeasurable``: never 0 for a gap that was not measured).
    """
    hits, counts = hits.double(), counts.double().to(hits.device)
    undefined = unmeasurable(counts)
    present = counts > 0  # (C, G)
    tpr = hits / counts.clamp(min=1)  # (..., C, G)
    hi = torch.where(present, tpr, torch.full_like(tpr, -1.0)).amax(-1)  # (..., C)
    lo = torch.where(present, tpr, torch.full_like(tpr, 2.0)).amin(-1)  # (..., C)
    has = present.any(-1)  # (C,)
    gap = (hi - lo)[..., has]  # (..., C')
    nan = torch.full(hits.shape[:-2], float("nan"), dtype=torch.float64, device=hits.device)
    group_n = counts.sum(0)  # (G,)
    group_acc = hits.sum(-2) / group_n.clamp(min=1)  # (..., G)
    n = counts.sum()
    out = {
        "accuracy": 100.0 * hits.sum((-2, -1)) / n if n > 0 else nan,
        "eod": 100.0 * gap.amax(-1) if gap.shape[-1] else nan,
        "deo_a": 100.0 * gap.mean(-1) if gap.shape[-1] else nan,
        "worst_group_accuracy": 100.0 * group_acc[..., group_n > 0].amin(-1) if bool((group_n > 0).any()) else nan,
    }
    return {k: nan if k in undefined else v for k, v in out.items()}


def bootstrap_metrics(correct: torch.Tensor, cells: torch.Tensor, *, n_classes: int, n_groups: int,
                      n_boot: int = 1000, seed: int = 0, block: int = 2**22) -> dict[str, torch.Tensor]:
    """Score each model on ``n_boot`` stratified bootstrap resamples of the test set.

    Every resample draws, within each (class, group) cell, as many test samples as the cell holds,
    with replacement; the cells keep their sizes, so the test set stays balanced as built. All models
    are scored on the same resamples (paired), so the spread of the model-mean reflects test-sample
    noise only: the trained models are held fixed.

    Parameters
    ----------
    correct : torch.Tensor, shape (M, N), bool
        Whether model m got test sample n right.
    cells : torch.Tensor, shape (N,), int64
        Each sample's ``cell_index`` in [0, n_classes · n_groups).
    n_classes, n_groups : int
        C and G.
    n_boot : int >= 1
        Number of resamples.
    seed : int
        Seed of the resamples' generator (same seed, same draws).
    block : int
        Bound on the resamples × padded slots held at once; it sets memory, not results.

    Returns
    -------
    dict of str to torch.Tensor, each of shape (M, n_boot), float64
        Keyed by ``SCALARS``.
    """
    if correct.ndim != 2 or cells.shape != correct.shape[1:]:
        raise ValueError(f"correct must be (M, N) and cells (N,); got {tuple(correct.shape)} and {tuple(cells.shape)}")
    n_boot, seed = check_int("n_boot", n_boot, 1), check_seed(seed)
    n_cells = n_classes * n_groups
    m, n = correct.shape
    dev = correct.device
    order = torch.argsort(cells, stable=True)  # (N,) samples grouped by cell
    sorted_cell = cells[order]  # (N,)
    counts = torch.bincount(cells, minlength=n_cells)  # (C·G,)
    start = torch.cumsum(counts, 0) - counts  # (C·G,) first sorted slot of each cell
    size = counts[sorted_cell].float()  # (N,) size of each sorted sample's cell
    # cells padded to the largest: slot (cell, position in cell), so a resample's hits are one batched product
    width = int(counts.max()) if n else 1
    base = sorted_cell * width  # (N,) first padded slot of each sorted sample's cell
    answers = torch.zeros(m, n_cells * width, device=dev)  # (M, C·G·width)
    answers[:, base + torch.arange(n, device=dev) - start[sorted_cell]] = correct[:, order].float()
    answers = answers.view(m, n_cells, width)  # (M, C·G, width)
    gen = torch.Generator(device=dev).manual_seed(seed)
    out = []
    step = max(1, block // max(1, n_cells * width))
    for b0 in range(0, n_boot, step):
        b = min(step, n_boot - b0)
        u = torch.rand(b, n, generator=gen, device=dev)  # (b, N): draw n of cell c is u · n_c
        slot = torch.minimum(u * size, size - 1).long() + base  # (b, N) a padded slot of the same cell
        slot += torch.arange(b, device=dev).unsqueeze(1) * (n_cells * width)
        times = torch.bincount(slot.flatten(), minlength=b * n_cells * width)
        times = times.view(b, n_cells, width).float()  # (b, C·G, width) draws of each slot
        hits = torch.einsum("bcw,mcw->mbc", times, answers)  # (M, b, C·G), exact: integers below 2^24
        out.append(hits.view(m, b, n_classes, n_groups))
    hits = torch.cat(out, 1)  # (M, n_boot, C, G)
    return metrics_from_hits(hits, counts.view(n_classes, n_groups))


# ----------------------------------------------------------------------------------- noise floor
def _binomial_pmf(n: int, p: torch.Tensor) -> torch.Tensor:
    """P(X = k), X ~ Binomial(n, p), for k = 0..n; p of shape (...,) → (..., n + 1), float64."""
    k = torch.arange(n + 1, dtype=torch.float64, device=p.device)
    p = p.double().unsqueeze(-1)
    log_choose = torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    logp = torch.where(k > 0, k * torch.log(p.clamp(min=1e-300)), torch.zeros_like(p * k))
    logq = torch.where(k < n, (n - k) * torch.log((1 - p).clamp(min=1e-300)), torch.zeros_like(p * k))
    pmf = torch.exp(log_choose + logp + logq)
    # p exactly 0 or 1: all mass on one end (the clamps above would leave tiny or no mass)
    pmf = torch.where(p == 0, (k == 0).double(), pmf)
    return torch.where(p == 1, (k == n).double(), pmf)


def range_cdf(n: int, n_groups: int, p: torch.Tensor) -> torch.Tensor:
    r"""Give the CDF of the range of ``n_groups`` iid binomial counts.

    For :math:`X_1, \dots, X_G \sim \mathrm{Binomial}(n, p)` iid and :math:`F` their CDF, the range
    is at most :math:`r` and the minimum exactly :math:`j` with probability

    .. math:: (F(j + r) - F(j - 1))^G - (F(j + r) - F(j))^G,

    and summing over :math:`j` gives :math:`P(\max_a X_a - \min_a X_a \le r)`.

    Parameters
    ----------
    n : int
        Trials per count (test samples per cell).
    n_groups : int
        G, the number of counts.
    p : torch.Tensor, shape (...,)
        Success probability.

    Returns
    -------
    torch.Tensor, shape (..., n + 1), float64
        The CDF at r = 0, ..., n.
    """
    cdf = torch.cumsum(_binomial_pmf(n, p), -1).clamp(max=1.0)  # (..., n+1) F(0..n)
    f = torch.cat([torch.zeros_like(cdf[..., :1]), cdf, torch.ones_like(cdf[..., :1])], -1)  # F(-1..n+1)
    j = torch.arange(n + 1, device=p.device)
    r = torch.arange(n + 1, device=p.device)
    top = (j[:, None] + r[None, :]).clamp(max=n + 1) + 1  # (j, r) index of F(j + r)
    f_top = f[..., top]  # (..., n+1, n+1)
    f_j = f[..., j + 1][..., :, None]  # F(j)
    f_jm1 = f[..., j][..., :, None]  # F(j - 1)
    prob = (f_top - f_jm1).clamp(min=0) ** n_groups - (f_top - f_j).clamp(min=0) ** n_groups
    return prob.sum(-2).clamp(0.0, 1.0)  # (..., n+1)


def _exact_floor(n: torch.Tensor, g: torch.Tensor, p: torch.Tensor) -> dict[str, torch.Tensor]:
    """Compute the expected EOD and DEO_A (percent) exactly, without simulation.

    Class c has ``g[c]`` cells of ``n[c]`` samples, each with hits ~ Binomial(n[c], p[..., c]);
    classes are independent.

    E[R_c / n_c] = Σ_{r<n_c} (1 − P(R_c ≤ r)) / n_c gives DEO_A; for EOD, max_c R_c / n_c has the CDF
    Π_c P(R_c ≤ ⌊t n_c⌋), a step function whose integral E = ∫_0^1 (1 − CDF(t)) dt is a finite sum
    over the union of the steps {r / n_c}. n, g : (C,); p : (..., C).
    """
    sizes = sorted({int(v) for v in n})
    t = torch.unique(torch.tensor([r / nc for nc in sizes for r in range(nc + 1)], dtype=torch.float64,
                                  device=p.device))  # (T,) sorted breakpoints in [0, 1]
    gaps = torch.zeros_like(p)  # (..., C) E[R_c / n_c]
    log_cdf = torch.zeros(p.shape[:-1] + (t.numel(),), dtype=torch.float64, device=p.device)  # (..., T)
    for nc, gc in sorted({(int(a), int(b)) for a, b in zip(n, g)}):  # one pass per distinct cell shape
        cls = ((n == nc) & (g == gc)).nonzero().flatten().to(p.device)  # (C_k,)
        h = range_cdf(nc, gc, p[..., cls])  # (..., C_k, nc+1)
        gaps[..., cls] = (1 - h[..., :-1]).sum(-1) / nc
        r = torch.floor(t * nc + 1e-9).long().clamp(max=nc)  # (T,) steps of this size at or below t
        log_cdf = log_cdf + torch.log(h[..., r].clamp(min=1e-300)).sum(-2)  # Π_c over these classes
    widths = torch.diff(t, append=torch.ones(1, dtype=torch.float64, device=p.device))  # (T,)
    eod = ((1 - torch.exp(log_cdf)) * widths).sum(-1)
    return {"eod": 100.0 * eod, "deo_a": 100.0 * gaps.mean(-1)}


def _simulated_floor(counts: torch.Tensor, p: torch.Tensor, n_sims: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator(device=counts.device).manual_seed(seed)
    shape = (n_sims,) + p.shape[:-1] + counts.shape  # (S, ..., C, G)
    trials = counts.double().expand(shape).contiguous()
    prob = p.double().unsqueeze(-1).expand(shape).contiguous()
    hits = torch.binomial(trials, prob, generator=gen)  # (S, ..., C, G)
    m = metrics_from_hits(hits, counts)
    return {"eod": m["eod"].mean(0), "deo_a": m["deo_a"].mean(0)}


def noise_floor(counts: torch.Tensor, accuracy: torch.Tensor | float, *, method: str = "auto",
                n_sims: int = 20000, seed: int = 0) -> dict[str, torch.Tensor]:
    r"""Give the EOD and DEO_A (percent) a perfectly fair model scores, in expectation, on this test set.

    A perfectly fair model classifies every group of class :math:`y` alike: each cell's correct count
    is :math:`H_{y,a} \sim \mathrm{Binomial}(n_{y,a}, p_y)`, independent over cells, with :math:`p_y`
    the class-:math:`y` accuracy it shares across groups. Its true EOD is 0, yet its measured EOD is

    .. math:: \mathbb{E}\Big[100 \max_y \big(\max_a H_{y,a} / n_{y,a} - \min_a H_{y,a} / n_{y,a}\big)\Big] > 0:

    sampling noise alone. Compare a measured EOD against this floor, not against 0.

    Parameters
    ----------
    counts : torch.Tensor, shape (C, G)
        Test samples per (class, group) cell (empty cells are left out).
    accuracy : float or torch.Tensor, shape (..., C) or (..., 1)
        The per-class accuracy :math:`p_y` in [0, 1] (one value broadcasts over classes); leading
        dimensions (e.g. models) are kept.
    method : {"auto", "exact", "simulate"}
        ``"exact"``: every class's non-empty cells hold the same count, as in the balanced benchmark
        test sets; ``"simulate"``: ``n_sims`` binomial draws, seeded by ``seed``; ``"auto"``: exact
        when possible.
    n_sims : int
        Simulated test sets when simulating.
    seed : int
        Seed of the simulation's generator.

    Returns
    -------
    dict of str to torch.Tensor, each of shape (...,), float64
        ``"eod"`` and ``"deo_a"``, in percent.
    """
    if method not in ("auto", "exact", "simulate"):
        raise ValueError(f"unknown method {method!r}; allowed: 'auto', 'exact', 'simulate'")
    n_sims, seed = check_int("n_sims", n_sims, 1), check_seed(seed)
    counts = torch.as_tensor(counts).long()
    if counts.ndim != 2:
        raise ValueError(f"counts must be a (classes, groups) table; got shape {tuple(counts.shape)}")
    p = torch.as_tensor(accuracy, dtype=torch.float64, device=counts.device)
    if p.ndim == 0:
        p = p.reshape(1)
    p = p.expand(p.shape[:-1] + (counts.shape[0],))  # (..., C)
    if bool(((p < 0) | (p > 1)).any()) or bool(p.isnan().any()):
        raise ValueError(f"accuracy must lie in [0, 1] (a fraction, not a percentage); got range "
                         f"[{float(p.min()):g}, {float(p.max()):g}]")
    present = counts > 0  # (C, G)
    has = present.any(1)  # (C,)
    if not bool(has.any()):
        raise ValueError("counts has no test sample")
    n_max = torch.where(present, counts, torch.zeros_like(counts)).amax(1)  # (C,)
    n_min = torch.where(present, counts, torch.full_like(counts, 2**62)).amin(1)  # (C,)
    balanced = bool((n_max == n_min)[has].all())
    if method == "exact" and not balanced:
        raise ValueError("method='exact' needs every class's non-empty cells to hold the same number of test "
                         "samples; use method='simulate'")
    if method == "simulate" or not balanced:
        return _simulated_floor(counts, p, n_sims, seed)
    return _exact_floor(n_max[has], present.sum(1)[has], p[..., has])
