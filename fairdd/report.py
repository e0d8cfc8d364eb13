"""``FairnessReport``: what the evaluation models got right on the test set, and what follows from it.

The report is shaped like fairlearn's ``MetricFrame``: ``overall`` (accuracy, EOD, DEO_A, worst-group
accuracy, each the mean over evaluation models), a typed ``by_group`` table, ``difference()``,
``ratio()``, ``group_min()`` / ``group_max()`` with the class as the control feature, and
``per_model`` values. It goes further on uncertainty, since EOD is the maximum of noisy cell
accuracies:

- ``model_interval()``: the t-interval over evaluation models (training noise, test set fixed);
- ``bootstrap()``: the interval from stratified resamples of the test set (test-sample noise,
  models fixed);
- ``noise_floor()``: the EOD / DEO_A that a perfectly fair model of the same per-class accuracy
  scores on this test set from sampling noise alone (``fairdd.metrics.noise_floor``).

The report holds each model's right/wrong answer per test sample (``correct``, (M, N)) and each
sample's (class, group) cell, nothing else heavy: the trained networks are not part of it
(``fairdd.train_models`` returns them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Sequence

import torch

from .metrics import SCALARS, bootstrap_metrics, metrics_from_hits, noise_floor, unmeasurable
from .ops import cell_counts, cell_index
from .validate import check_dtype, check_int, check_real, check_seed, describe_value

__all__ = ["FairnessReport", "Interval", "demo_table", "footnote", "shown"]


_ID_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)  # predictions, labels, groups


class Interval(NamedTuple):
    """A two-sided confidence interval, in percent."""

    low: float
    high: float

    def __str__(self) -> str:
        """Give the interval as ``[low, high]`` in %, or ``—`` when it is undefined."""
        if math.isnan(self.low) or math.isnan(self.high):
            return "—"
        return f"[{self.low:.1f}, {self.high:.1f}]"


def shown(value: float, why: str | None = None, spec: str = ".2f") -> str:
    """Format a metric as tables and the CLI show it: ``f"{value:{spec}}"``, or ``"undefined (<why>)"`` for NaN."""
    if math.isnan(value):
        return f"undefined ({why})" if why else "undefined"
    return f"{value:{spec}}"


def _clipped(value: float, half: float) -> Interval:
    """Give value ± half within [0, 100]; NaN stays NaN (an undefined metric has no interval)."""
    if math.isnan(value) or math.isnan(half):
        return Interval(math.nan, math.nan)
    return Interval(max(0.0, value - half), min(100.0, value + half))


@dataclass(frozen=True, eq=False)
class FairnessReport:
    r"""The evaluation models' answers on a test set and the fairness metrics they give.

    With :math:`H^{(m)}_{y,a}` the test samples of class :math:`y` and group :math:`a` that model
    :math:`m` classifies right and :math:`n_{y,a}` the cell's size, every metric is a function of
    the table :math:`\mathrm{TPR}^{(m)}_{a,y} = H^{(m)}_{y,a} / n_{y,a}`:

    .. math::
        \mathrm{EOD}^{(m)} = 100 \max_y \big(\max_a \mathrm{TPR}^{(m)}_{a,y} - \min_a \mathrm{TPR}^{(m)}_{a,y}\big),
        \qquad
        \mathrm{DEO_A}^{(m)} = 100\, \operatorname{mean}_y \big(\max_a \mathrm{TPR}^{(m)}_{a,y}
        - \min_a \mathrm{TPR}^{(m)}_{a,y}\big),

    and ``overall`` is each metric's mean over the M models; the accessors follow fairlearn's
    ``MetricFrame`` [Bird2020]_. Build one with
    :func:`fairdd.evaluate` / :func:`fairdd.evaluate.score` or :meth:`from_predictions`.

    Parameters
    ----------
    correct : torch.Tensor, shape (M, N), bool
        Whether evaluation model m classified test sample n right.
    cells : torch.Tensor, shape (N,), int64
        Each test sample's (class, group) cell, ``class * n_groups + group``
        (``fairdd.metrics.cell_index``), in [0, C · G).
    class_names, group_names : tuple of str
        One name per class (C) and per protected group (G).
    config, source : dict
        The evaluation settings and what was trained on (recorded by ``save``).
    seconds : float
        Wall time of training and scoring.
    batched : bool
        Whether the models were trained together.
    models : tuple of torch.nn.Module
        Deprecated; filled only by ``evaluate(keep_models=True)`` until its callers use
        ``train_models``.

    References
    ----------
    .. [Bird2020] Bird et al., "Fairlearn: A toolkit for assessing and improving fairness in AI", 2020
       (``MetricFrame``: ``overall``, ``by_group``, ``difference()``, ``group_min()``).
    """

    correct: torch.Tensor
    cells: torch.Tensor
    class_names: tuple[str, ...]
    group_names: tuple[str, ...]
    config: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    seconds: float = 0.0
    batched: bool = False
    models: tuple = field(default=(), repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the shapes and dtypes of the per-sample tensors."""
        if self.correct.ndim != 2 or self.correct.dtype != torch.bool:
            raise ValueError(f"correct must be a (models, samples) bool tensor; got {tuple(self.correct.shape)} "
                             f"{self.correct.dtype}")
        if self.correct.shape[0] < 1:
            raise ValueError("correct needs at least one model")
        if self.cells.shape != self.correct.shape[1:]:
            raise ValueError(f"cells must have shape ({self.correct.shape[1]},); got {tuple(self.cells.shape)}")
        n_cells = self.n_classes * self.n_groups
        if self.cells.numel() and (int(self.cells.min()) < 0 or int(self.cells.max()) >= n_cells):
            raise ValueError(f"cells must lie in [0, {n_cells}) for {self.n_classes} classes × {self.n_groups} "
                             f"groups; got range [{int(self.cells.min())}, {int(self.cells.max())}]")

    @classmethod
    def from_predictions(cls, pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, *,
                         class_names: Sequence[str], group_names: Sequence[str], **meta) -> "FairnessReport":
        """Build a report from M models' predicted classes.

        Parameters
        ----------
        pred : torch.Tensor, shape (M, N) or (N,), int64
            Predicted class of every test sample, per model (a 1-D tensor is one model).
        labels, groups : torch.Tensor, shape (N,), int64
            True class and protected group of every test sample.
        class_names, group_names : sequence of str
            One name per class and per group.
        **meta
            The other fields: ``config``, ``source``, ``seconds``, ``batched``.

        Returns
        -------
        FairnessReport
        """
        for name, ids in (("pred", pred), ("labels", labels), ("groups", groups)):
            check_dtype(name, ids, _ID_DTYPES, "class or group ids: an integer tensor")
        for name, names in (("class_names", class_names), ("group_names", group_names)):
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{name} must be a list or tuple of str (one per id); got {describe_value(names)}")
        pred = pred.reshape(-1, pred.shape[-1]) if pred.ndim == 1 else pred
        if pred.shape[1:] != labels.shape or labels.shape != groups.shape:
            raise ValueError(f"pred must be (models, N) and labels, groups (N,); got {tuple(pred.shape)}, "
                             f"{tuple(labels.shape)}, {tuple(groups.shape)}")
        return cls(correct=(pred == labels).cpu(), cells=cell_index(labels, groups, len(group_names)).cpu(),
                   class_names=tuple(class_names), group_names=tuple(group_names), **meta)

    # --------------------------------------------------------------------------- tables
    @property
    def n_models(self) -> int:
        """M, the number of evaluation models."""
        return int(self.correct.shape[0])

    @property
    def n_classes(self) -> int:
        """C, the number of classes."""
        return len(self.class_names)

    @property
    def n_groups(self) -> int:
        """G, the number of protected groups."""
        return len(self.group_names)

    @property
    def counts(self) -> torch.Tensor:
        """Test samples per (class, group) cell, (C, G) int64."""
        return cell_counts(self.cells, self.n_classes, self.n_groups)

    @property
    def hits(self) -> torch.Tensor:
        """Correct predictions per model and cell, (M, C, G) int64."""
        n_cells = self.n_classes * self.n_groups
        hits = torch.zeros(self.n_models, n_cells, dtype=torch.long).index_add_(1, self.cells, self.correct.long())
        return hits.view(self.n_models, self.n_classes, self.n_groups)

    @property
    def tpr(self) -> torch.Tensor:
        """Accuracy per model and cell in [0, 1], (M, C, G) float64 (NaN for an empty cell)."""
        counts = self.counts.double()
        return self.hits.double() / torch.where(counts > 0, counts, torch.full_like(counts, float("nan")))

    @property
    def undefined(self) -> dict[str, str]:
        """The fairness metrics this test set cannot measure, and why (``fairdd.metrics.unmeasurable``).

        Those metrics are NaN everywhere in the report (never 0, which would read "perfectly fair") and
        are shown as ``"undefined (<why>)"``, e.g. ``{"eod": "1 group in the test set", ...}``.
        """
        return unmeasurable(self.counts, self.class_names, self.group_names)

    def shown(self, metric: str, spec: str = ".2f") -> str:
        """Give the model-mean ``metric`` as text: ``"12.34"``, or ``"undefined (1 group in the test set)"``."""
        return shown(self.overall[metric], self.undefined.get(metric), spec)

    def _values(self) -> dict[str, torch.Tensor]:
        if "values" not in self._cache:
            self._cache["values"] = metrics_from_hits(self.hits, self.counts)  # each (M,)
        return self._cache["values"]

    @property
    def per_model(self) -> tuple[dict, ...]:
        """Each evaluation model's scalar metrics (percent), in training order."""
        values = self._values()
        return tuple({k: float(values[k][m]) for k in SCALARS} for m in range(self.n_models))

    def per_model_table(self):
        """``per_model`` as a DataFrame, one row per model (index ``model``), float64 columns."""
        import pandas as pd

        frame = pd.DataFrame({k: v.numpy() for k, v in self._values().items()})
        frame.index.name = "model"
        return frame

    @property
    def overall(self) -> dict[str, float]:
        """Mean over evaluation models of accuracy, EOD, DEO_A and worst-group accuracy (percent)."""
        return {k: float(v.mean()) for k, v in self._values().items()}

    @property
    def std(self) -> dict[str, float]:
        """Standard deviation over evaluation models (population, ddof = 0) of each metric."""
        return {k: float(v.std(unbiased=False)) for k, v in self._values().items()}

    accuracy = property(lambda self: self.overall["accuracy"], doc="Mean accuracy over models (%).")
    eod = property(lambda self: self.overall["eod"], doc="Mean EOD over models (%).")
    deo_a = property(lambda self: self.overall["deo_a"], doc="Mean DEO_A over models (%).")
    worst_group_accuracy = property(lambda self: self.overall["worst_group_accuracy"],
                                    doc="Mean worst-group accuracy over models (%).")

    @property
    def by_group(self):
        """Give the (class, group) table as a DataFrame, one row per cell in id order.

        Columns: ``class`` and ``group`` (categorical, in id order), ``accuracy`` and ``accuracy_std``
        (mean and population std over models, %, float64) and ``count`` (int64).
        """
        import pandas as pd

        tpr = 100 * self.tpr  # (M, C, G)
        n_c, n_g = self.n_classes, self.n_groups
        return pd.DataFrame({
            "class": pd.Categorical.from_codes(torch.arange(n_c).repeat_interleave(n_g).numpy(),
                                               categories=list(self.class_names)),
            "group": pd.Categorical.from_codes(torch.arange(n_g).repeat(n_c).numpy(),
                                               categories=list(self.group_names)),
            "accuracy": tpr.mean(0).flatten().numpy(),
            "accuracy_std": tpr.std(0, unbiased=False).flatten().numpy(),
            "count": self.counts.flatten().numpy(),
        })

    # ----------------------------------------------------------- fairlearn-style aggregates
    def _cell_table(self, model: int | None) -> torch.Tensor:
        if model is not None:
            try:
                model = check_int("model", model, 0, self.n_models - 1)
            except ValueError:
                raise ValueError(f"model must be None (the mean over models) or in [0, {self.n_models}); "
                                 f"got {describe_value(model)}") from None
        return 100 * (self.tpr.mean(0) if model is None else self.tpr[model])  # (C, G)

    def _by_class(self, values: torch.Tensor, name: str):
        import pandas as pd

        return pd.Series(values.numpy(), index=pd.CategoricalIndex(list(self.class_names), name="class"), name=name)

    def group_max(self, *, model: int | None = None):
        """Give per class the highest group accuracy (%), a Series indexed by class.

        ``model`` picks one evaluation model's table; None averages the table over models first.
        """
        return self._by_class(torch.nan_to_num(self._cell_table(model), nan=-math.inf).amax(1), "group_max")

    def group_min(self, *, model: int | None = None):
        """Give per class the lowest group accuracy (%), a Series indexed by class."""
        return self._by_class(torch.nan_to_num(self._cell_table(model), nan=math.inf).amin(1), "group_min")

    def difference(self, *, model: int | None = None):
        """Give per class max − min group accuracy (percentage points), a Series indexed by class.

        With ``model`` given, its max is that model's EOD and its mean that model's DEO_A.
        """
        return (self.group_max(model=model) - self.group_min(model=model)).rename("difference")

    def ratio(self, *, model: int | None = None):
        """Give per class min / max group accuracy, a Series indexed by class (NaN where max is 0)."""
        hi = self.group_max(model=model)
        return (self.group_min(model=model) / hi.where(hi > 0)).rename("ratio")

    # --------------------------------------------------------------------------- uncertainty
    def model_interval(self, *, level: float = 0.95) -> dict[str, Interval]:
        """Give each metric's t-interval over evaluation models (training noise, test set fixed).

        Mean ± t_{(1+level)/2, M−1} · s / √M (s with ddof = 1), clipped to [0, 100]: how far the mean
        could move with other training draws on this test set. NaN with one model.
        """
        _check_level(level)
        if self.n_models < 2:
            return {k: Interval(math.nan, math.nan) for k in SCALARS}
        from scipy.stats import t

        q = float(t.ppf((1 + level) / 2, self.n_models - 1))
        return {k: _clipped(float(v.mean()), q * float(v.std(unbiased=True)) / math.sqrt(self.n_models))
                for k, v in self._values().items()}

    def bootstrap(self, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                  kind: Literal["normal", "percentile"] = "normal") -> dict[str, Interval]:
        """Give each model-mean metric's interval from ``n_boot`` stratified resamples of the test set.

        Resamples are drawn within each (class, group) cell, with replacement, all models on the same
        resample: how far the numbers could move on another test set of the same design, models held
        fixed.

        ``kind="normal"`` (default): value ± z_{(1+level)/2} · (std of the resampled values), clipped to
        [0, 100]. ``kind="percentile"``: the resamples' quantiles. EOD and DEO_A are maxima of noisy
        gaps, and a resample adds its own noise to the test set's, so their resamples sit above the
        measured value, often entirely (demo, cobra: EOD 60, percentile interval [70, 93]); the
        normal interval keeps the measured value at its centre and takes only the spread from the
        bootstrap. Where "fair" lies is ``noise_floor``'s answer, not the interval's.
        """
        _check_level(level)
        n_boot, seed = check_int("n_boot", n_boot, 1), check_seed(seed)
        if kind not in ("normal", "percentile"):
            raise ValueError(f"unknown kind {kind!r}; allowed: 'normal', 'percentile'")
        key = ("bootstrap", n_boot, level, seed, kind)
        if key not in self._cache:
            draws = self._bootstrap_draws(n_boot, seed)
            if kind == "percentile":
                q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
                out = {k: Interval(*torch.quantile(v, q).tolist()) for k, v in draws.items()}
            else:
                z = float(torch.special.ndtri(torch.tensor((1 + level) / 2, dtype=torch.float64)))
                value = self.overall
                out = {k: _clipped(value[k], z * float(v.std())) for k, v in draws.items()}
            self._cache[key] = out
        return self._cache[key]

    def _bootstrap_draws(self, n_boot: int, seed: int) -> dict[str, torch.Tensor]:
        key = ("draws", n_boot, seed)
        if key not in self._cache:
            draws = bootstrap_metrics(self.correct, self.cells, n_classes=self.n_classes, n_groups=self.n_groups,
                                      n_boot=n_boot, seed=seed)  # each (M, n_boot)
            self._cache[key] = {k: v.mean(0) for k, v in draws.items()}  # (n_boot,) the model-mean
        return self._cache[key]

    def noise_floor(self, *, basis: Literal["class", "overall"] = "class",
                    method: Literal["auto", "exact", "simulate"] = "auto") -> dict[str, float]:
        """Give the EOD and DEO_A (%) a perfectly fair model scores here from sampling noise alone.

        In expectation, with every cell's hits ~ Binomial(n_{y,a}, p_y), averaged over the evaluation
        models.

        ``basis="class"`` (default): p_y is the model's accuracy on class y (groups pooled): a fair
        model may find some classes harder, it only may not treat the groups of a class differently.
        ``basis="overall"``: one p, the model's overall accuracy, for every class (the floor the
        issue's "77 % accuracy" numbers use; larger when class accuracies differ, as p(1 − p) is
        concave). ``method``: see ``fairdd.metrics.noise_floor`` (exact on balanced test sets).
        """
        if basis not in ("class", "overall"):
            raise ValueError(f"unknown basis {basis!r}; allowed: 'class', 'overall'")
        key = ("floor", basis, method)
        if key not in self._cache:
            hits, counts = self.hits.double(), self.counts.double()
            if basis == "class":
                p = hits.sum(2) / counts.sum(1).clamp(min=1)  # (M, C)
            else:
                p = (hits.sum((1, 2)) / counts.sum()).unsqueeze(1)  # (M, 1)
            floor = noise_floor(self.counts, p, method=method)
            undefined = self.undefined  # no floor for a metric that is not measured
            self._cache[key] = {k: math.nan if k in undefined else float(v.mean()) for k, v in floor.items()}
        return self._cache[key]

    def uncertainty(self, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0):
        """Give all of it in one DataFrame, one row per metric.

        Columns: ``value`` (mean over models), ``std`` (over models), the t-interval over models, the
        bootstrap interval over test samples, and the noise floor (EOD and DEO_A only; NaN
        otherwise). Percent, float64.
        """
        import pandas as pd

        models, boot = self.model_interval(level=level), self.bootstrap(n_boot=n_boot, level=level, seed=seed)
        floor, overall, std = self.noise_floor(), self.overall, self.std
        return pd.DataFrame({
            "value": [overall[k] for k in SCALARS], "std": [std[k] for k in SCALARS],
            "models_low": [models[k].low for k in SCALARS], "models_high": [models[k].high for k in SCALARS],
            "bootstrap_low": [boot[k].low for k in SCALARS], "bootstrap_high": [boot[k].high for k in SCALARS],
            "noise_floor": [floor.get(k, math.nan) for k in SCALARS],
        }, index=pd.Index(list(SCALARS), name="metric"))

    # ------------------------------------------------------------------------------ output
    def summary(self) -> str:
        """Give one line: each metric as mean ± std over models, with intervals and floors.

        The interval is the 95 % bootstrap over test samples; EOD and DEO_A carry their noise floor.
        """
        boot, floor, overall, std, undefined = self.bootstrap(), self.noise_floor(), self.overall, self.std, \
            self.undefined
        parts = []
        for k in SCALARS:
            if k in undefined:
                parts.append(f"{k} {shown(overall[k], undefined[k])}")
                continue
            part = f"{k} {overall[k]:.2f} ± {std[k]:.2f} {boot[k]}"
            if k in floor:
                part += f" (floor {floor[k]:.1f})"
            parts.append(part)
        return " | ".join(parts) + f"  [± std over {self.n_models} models; 95 % bootstrap over test samples]"

    def __repr__(self) -> str:
        """Give the headline metrics, the EOD noise floor and the sizes in one line."""
        values = ", ".join(f"{k}={self.shown(k)}" for k in SCALARS)
        return (f"FairnessReport({values}, eod_noise_floor={shown(self.noise_floor()['eod'])}, "
                f"n_models={self.n_models}, n_test={self.correct.shape[1]}, classes={self.n_classes}, "
                f"groups={self.n_groups})")

    def to_dict(self) -> dict:
        """JSON-ready summary: overall metrics, std, per-model values, intervals and noise floor.

        An undefined metric is NaN, with its reason under ``"undefined"``.
        """
        return {**self.overall, "undefined": self.undefined, "std": self.std,
                "per_model": [dict(m) for m in self.per_model],
                "intervals": {"models_t95": {k: list(v) for k, v in self.model_interval().items()},
                              "bootstrap95": {k: list(v) for k, v in self.bootstrap().items()}},
                "noise_floor": self.noise_floor(), "seconds": self.seconds, "config": self.config,
                "source": self.source}

    def save(self, path):
        """Write the report as JSON (atomically), the (class, group) table included.

        A file at ``path`` that fairdd did not write is never replaced (``fairdd.ownership``).
        """
        import json

        from .ownership import write_owned

        table = self.by_group.astype({"class": str, "group": str})
        text = json.dumps({**self.to_dict(), "by_group": table.to_dict(orient="records")}, indent=2) + "\n"
        return write_owned(path, lambda p: p.write_text(text), what="report")


def _check_level(level: float) -> None:
    try:
        check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    except ValueError:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95; got {describe_value(level)}") from None


# ----------------------------------------------------------------------------- display helpers
def demo_table(rows: Sequence[tuple[str, FairnessReport, float]]) -> str:
    """Format the CLI demo's closing table, one row per strategy.

    Accuracy, EOD and DEO_A as mean ± std over models, EOD's 95 % bootstrap interval over test
    samples, EOD's and DEO_A's noise floor, worst-group accuracy and seconds; a footnote says what ±
    and the floor mean. ``rows``: (name, report, seconds).
    """
    head = (f"{'strategy':10s} {'accuracy':>14s} {'EOD':>14s} {'EOD 95% CI':>14s} {'EOD floor':>10s} "
            f"{'DEO_A':>14s} {'DEO_A floor':>12s} {'worst-group':>12s} {'seconds':>8s}")
    lines = [head]
    undefined = {}
    for name, r, seconds in rows:
        o, s, floor, ci = r.overall, r.std, r.noise_floor(), r.bootstrap()["eod"]
        pm = {k: "undefined" if math.isnan(o[k]) else f"{o[k]:.2f} ± {s[k]:.2f}" for k in SCALARS}
        fl = {k: shown(floor[k], spec=".1f") for k in floor}
        lines.append(f"{name:10s} {pm['accuracy']:>14s} {pm['eod']:>14s} {str(ci):>14s} {fl['eod']:>10s} "
                     f"{pm['deo_a']:>14s} {fl['deo_a']:>12s} {shown(o['worst_group_accuracy']):>12s} {seconds:8.1f}")
        undefined.update(r.undefined)
    if rows:
        lines += ["", footnote([r for _, r, _ in rows])]
        lines += [f"{k} undefined: {why}" for k, why in undefined.items()]
    return "\n".join(lines)


def footnote(reports: Sequence[FairnessReport] | FairnessReport, *, latex: bool = False) -> str:
    """Write a table footnote: what ± means, the test set's cell size, and the noise floor.

    The floor is the EOD / DEO_A of a perfectly fair model at each report's per-class accuracy (a
    range when the reports differ).
    """
    reports = [reports] if isinstance(reports, FairnessReport) else list(reports)
    if not reports:
        raise ValueError("footnote needs at least one report")
    models = sorted({r.n_models for r in reports})
    cells = sorted({int(n) for r in reports for n in r.counts.flatten().tolist() if n > 0})
    eod = [f for r in reports if not math.isnan(f := r.noise_floor()["eod"])]  # undefined EODs have no floor
    deo = [f for r in reports if not math.isnan(f := r.noise_floor()["deo_a"])]
    span = lambda v: f"{min(v):.1f}" if max(v) - min(v) < 0.05 else f"{min(v):.1f}–{max(v):.1f}"  # noqa: E731
    n_cell = f"{cells[0]}" if len(cells) == 1 else f"{cells[0]}–{cells[-1]}" if cells else "no"
    pm = r"$\pm$" if latex else "±"
    text = f"{pm} is the standard deviation over {'/'.join(map(str, models))} evaluation models."
    if eod and deo:
        text += (f" With {n_cell} test images per (class, group) cell, a perfectly fair model of the same "
                 f"per-class accuracy scores EOD {span(eod)} and DEO_A {span(deo)} from sampling noise alone "
                 f"(binomial noise floor); an EOD below it is no evidence of bias.")
    return text.replace("%", r"\%") if latex else text
