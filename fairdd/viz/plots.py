"""Matplotlib views used by the notebooks and the dashboard (import matplotlib lazily)."""
from __future__ import annotations

import io

import numpy as np
import torch

from ..palette import STRATEGY_COLOURS, cycle_colour, group_colour, strategy_colour

__all__ = ["group_colour", "strategy_colour", "STRATEGY_COLOURS", "fig_to_png", "plot_loss", "plot_embedding",
           "plot_images", "plot_group_heatmap",
           "plot_toy", "plot_fairness", "grid_png", "DASHBOARD_RC"]

# Readable on a projector at 1280×720: figures are drawn small and shown at ~1:1, so fonts are large.
DASHBOARD_RC = {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "xtick.labelsize": 10,
                "ytick.labelsize": 10, "legend.fontsize": 10}


def fig_to_png(fig, *, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def new_figure(w: float = 4.0, h: float = 3.0):
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def plot_loss(ax, history: list, *, label: str | None = None, color=None) -> None:
    """Plot the matching loss against iteration.

    Log scale only when it spans more than a factor 20, with plain-number tick labels either way.
    """
    from matplotlib.ticker import FuncFormatter

    it = [h["iteration"] if isinstance(h, dict) else h.iteration for h in history]
    loss = [h["loss"] if isinstance(h, dict) else h.loss for h in history]
    ax.plot(it, loss, lw=1.5, label=label, color=color)
    ax.set_xlabel("iteration")
    ax.set_ylabel("matching loss")
    if loss and min(loss) > 0 and max(loss) / min(loss) > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def plot_embedding(ax, frame, group_names) -> None:
    """Plot an embedding frame: real points by group, group means, barycenter and synthetic points.

    Real points are coloured by group (black edges), group means large, the barycenter a star, the
    pooled mean an X and synthetic points black diamonds.
    """
    for a, name in enumerate(group_names):
        m = frame.real_groups == a
        if m.any():
            ax.scatter(*frame.real_xy[m].T, s=12, color=group_colour(name, a), edgecolors="k", linewidths=0.3,
                       alpha=0.7, label=name)
    for xy, kind in zip(frame.extra_xy, frame.extra_kind):
        if kind.startswith("mean:"):
            name = kind[5:]
            ax.scatter(*xy, s=90, color=group_colour(name, list(group_names).index(name)), edgecolors="k",
                       linewidths=1.2, marker="o", zorder=3)
    kinds = np.array(frame.extra_kind)
    for kind, style in (("barycenter", dict(marker="*", s=260, color=STRATEGY_COLOURS["cobra"], label="barycenter (cobra)")),
                        ("pooled", dict(marker="X", s=150, color=STRATEGY_COLOURS["vanilla"], label="pooled mean (vanilla)")),
                        ("synthetic", dict(marker="D", s=28, color="k", label="synthetic"))):
        m = kinds == kind
        if m.any():
            ax.scatter(*frame.extra_xy[m].T, edgecolors="w", linewidths=0.8, zorder=4, **style)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"embedding view, iteration {frame.iteration}")


def plot_images(ax, images: torch.Tensor, labels: torch.Tensor, *, title: str = "") -> None:
    """Images in [0, 1] (N, C, H, W) as a grid, one row per class."""
    from ..results import image_grid

    grid = image_grid(images.detach().cpu(), labels.cpu())
    ax.imshow(grid.permute(1, 2, 0).numpy().squeeze(), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)


def plot_group_heatmap(ax, by_group, *, title: str = "accuracy per (class, group) %", majority=None,
                       fontsize: int = 7) -> None:
    """Draw a heatmap of a report's ``by_group`` table.

    ``majority`` (C,) marks each class's majority group (the training set's most frequent group of
    that class) with a white box.
    """
    from matplotlib.patches import Rectangle

    table = by_group.pivot(index="class", columns="group", values="accuracy")
    table = table.loc[list(dict.fromkeys(by_group["class"])), list(dict.fromkeys(by_group["group"]))]
    im = ax.imshow(table.values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, fontsize=fontsize)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=fontsize)
    ax.set_xlabel("group (test samples of that colour)")
    ax.set_ylabel("class")
    if majority is not None:
        for r, g in enumerate(list(majority)[: table.shape[0]]):
            ax.add_patch(Rectangle((g - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="white", lw=2))
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.04)


METRIC_STYLE = {"accuracy": dict(ls="-", label="accuracy"), "worst_group_accuracy": dict(ls=":", label="worst group"),
                "eod": dict(ls="-", label="EOD"), "deo_a": dict(ls="--", label="DEO_A")}


def plot_fairness(axes, curves: dict, *, floors: dict | None = None) -> None:
    """Plot fairness over time.

    ``curves``: {target: {"iteration": [...], "accuracy": [...], "eod": [...],
    "deo_a": [...], "worst_group_accuracy": [...]}} (``DistillController.curves()``); left axis
    accuracy and worst-group accuracy, right axis EOD and DEO_A, one colour per target.
    ``floors``: {target: (iterations, low, high)}: the EOD a perfectly fair model of the same accuracy
    scores on this test set by chance (a band; below it a gap cannot be told from noise).
    """
    left, right = axes
    for i, (target, c) in enumerate(curves.items()):
        colour = strategy_colour(target, i)
        for ax, keys in ((left, ("accuracy", "worst_group_accuracy")), (right, ("eod", "deo_a"))):
            for k in keys:
                st = METRIC_STYLE[k]
                ax.plot(c["iteration"], c[k], ls=st["ls"], marker="o", ms=3, lw=1.8, color=colour,
                        label=f"{target} {st['label']}")
        if floors and target in floors and len(floors[target][0]):
            its, lo, hi = floors[target]
            right.fill_between(its, lo, hi, color=colour, alpha=0.15, lw=0,
                               label=f"{target}: fair-model noise (EOD)")
    left.set_ylabel("accuracy %")
    right.set_ylabel("gap (percentage points)")
    left.set_title("accuracy (—) · worst group (···)")
    right.set_title("EOD (—) · DEO_A (--) · noise band")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    handles, labels = right.get_legend_handles_labels()
    keep = [(h, l) for h, l in zip(handles, labels) if l.endswith(" EOD") or "noise" in l]
    if keep:  # under the panels, so no curve is hidden
        right.figure.legend(*zip(*keep), loc="lower center", ncol=min(4, len(keep)), fontsize=9, frameon=False)


def grid_png(images: torch.Tensor, labels: torch.Tensor, *, max_per_class: int = 10, scale: int | None = None,
             target_width: int = 420) -> tuple[bytes, int, int]:
    """Render the synthetic set as a PNG with square pixels (aspect kept at every IPC).

    One row per class, the first ``max_per_class`` images of each. Returns (png bytes, width, height).
    Compressed at zlib level 1: a live panel redraws it twice a second on the UI thread, and level 1 encodes
    the demo's 331×331 grid in 10 ms against level 6's 29 ms for 11% more bytes (225 against 202 kB).
    """
    from PIL import Image

    from ..results import image_grid

    keep = torch.zeros(len(labels), dtype=torch.bool)
    for k in labels.unique().tolist():  # display only
        keep[(labels == k).nonzero().flatten()[:max_per_class]] = True
    grid = image_grid(images[keep].detach().cpu(), labels[keep].cpu())  # (c, H, W)
    arr = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    scale = scale or max(1, target_width // img.width)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), img.width, img.height


def plot_toy(ax, data, targets: dict, *, residual_of: str = "vanilla") -> None:
    """Plot the 2-D toy: group clouds, true group means, each strategy's target, residual arrows."""
    pts, lab, grp = data.points.numpy(), data.labels.numpy(), data.groups.numpy()
    for a in range(data.n_groups):
        m = grp == a
        ax.scatter(*pts[m].T, s=5, alpha=0.35, color=cycle_colour(a), label=f"group {a}")
    cm = data.centres.numpy()
    for c in range(data.n_classes):
        for a in range(data.n_groups):
            ax.scatter(*cm[c, a], s=70, color=cycle_colour(a), edgecolors="k", zorder=3)
    markers = {"vanilla": "X", "uniform": "s", "fairdd": "P", "cobra": "*"}
    for name, t in targets.items():
        ax.scatter(*t.numpy().T, s=160 if name == "cobra" else 90, marker=markers.get(name, "o"),
                   color=STRATEGY_COLOURS.get(name, "k"), edgecolors="k", zorder=4, label=name)
    t = targets[residual_of].numpy()
    for c in range(data.n_classes):
        for a in range(data.n_groups):
            ax.annotate("", xy=cm[c, a], xytext=t[c], arrowprops=dict(arrowstyle="->", color="0.3", lw=0.8))
    ax.set_aspect("equal", adjustable="datalim")  # equal units without shrinking the axes to a strip
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the clouds, never over them


def plot_dataset_samples(ax, ds, *, per_group: int = 6, class_id: int = 0) -> None:
    """Show ``per_group`` images of class ``class_id`` for every group (one row per group)."""
    rows, labels = [], []
    for a in range(ds.n_groups):
        idx = ((ds.labels == class_id) & (ds.groups == a)).nonzero().flatten()[:per_group]
        rows.append(ds.display(ds.images[idx]))
        labels.append(torch.full((len(idx),), a))
    plot_images(ax, torch.cat(rows), torch.cat(labels))
    ax.set_title(f"class {ds.class_names[class_id]!r}: one row per group", fontsize=9)


def plot_study(df, *, metric: str = "eod", kind: str = "heatmap"):
    """Plot the imbalance × separation study, one panel per target.

    Either a heatmap (imbalance × severity) of ``metric`` averaged over seeds, or line plots of
    ``metric`` against imbalance, one line per severity.
    """
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(df["target"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets), 2.9), squeeze=False, sharey=True)
    mean = df.groupby(["target", "imbalance", "severity"], as_index=False)[metric].mean()
    for ax, t in zip(axes[0], targets):
        sub = mean[mean["target"] == t]
        if kind == "heatmap":
            table = sub.pivot(index="severity", columns="imbalance", values=metric).sort_index(ascending=False)
            im = ax.imshow(table.values, vmin=0, vmax=100, cmap="magma_r", aspect="auto")
            ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns])
            ax.set_yticks(range(table.shape[0]), table.index)
            for (i, j), v in np.ndenumerate(table.values):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="w" if v > 50 else "k")
            ax.set_xlabel("imbalance (bias)")
            if ax is axes[0][0]:
                ax.set_ylabel("separation (severity)")
        else:
            for sev, g in sub.groupby("severity"):
                ax.plot(g["imbalance"], g[metric], marker="o", label=f"severity {sev}")
            ax.set_xlabel("imbalance (bias)")
            ax.set_ylim(0, 105)
            if ax is axes[0][0]:
                ax.set_ylabel(metric)
                ax.legend(fontsize=7)
        ax.set_title(t)
    if kind == "heatmap":
        fig.colorbar(im, ax=axes[0].tolist(), fraction=0.02, label=metric)
    return fig
