"""Matplotlib views used by the notebooks and the dashboard (import matplotlib lazily)."""
from __future__ import annotations

import io

import numpy as np
import torch

from ..data.colored import PALETTE

__all__ = ["group_colour", "fig_to_png", "plot_loss", "plot_embedding", "plot_images", "plot_group_heatmap",
           "plot_toy"]

_FALLBACK = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
             "#000000", "#882255"]  # Okabe–Ito + extras
STRATEGY_COLOURS = {"vanilla": "#E69F00", "uniform": "#56B4E9", "fairdd": "#009E73", "cobra": "#0072B2",
                    "random": "#999999", "w2": "#CC79A7"}


def group_colour(name: str, index: int = 0):
    """The group's own colour for colour groups, else an Okabe–Ito colour."""
    return PALETTE.get(name, _FALLBACK[index % len(_FALLBACK)])


def fig_to_png(fig, *, dpi: int = 90) -> bytes:
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


def plot_loss(ax, history: list, *, label: str | None = None) -> None:
    it = [h["iteration"] if isinstance(h, dict) else h.iteration for h in history]
    loss = [h["loss"] if isinstance(h, dict) else h.loss for h in history]
    ax.plot(it, loss, lw=1, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("matching loss")
    if loss and min(loss) > 0:
        ax.set_yscale("log")


def plot_embedding(ax, frame, group_names) -> None:
    """Real points coloured by group (black edges), group means (large), barycenter (star),
    pooled mean (X) and synthetic points (black diamonds)."""
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
    for kind, style in (("barycenter", dict(marker="*", s=260, color="#0072B2", label="barycenter (cobra)")),
                        ("pooled", dict(marker="X", s=150, color="#E69F00", label="pooled mean (vanilla)")),
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


def plot_group_heatmap(ax, by_group, *, title: str = "accuracy per (class, group) %") -> None:
    """Heatmap of a report's ``by_group`` table."""
    table = by_group.pivot(index="class", columns="group", values="accuracy")
    table = table.loc[list(dict.fromkeys(by_group["class"])), list(dict.fromkeys(by_group["group"]))]
    im = ax.imshow(table.values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, fontsize=7)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.04)


def plot_toy(ax, data, targets: dict, *, residual_of: str = "vanilla") -> None:
    """The 2-D toy: group clouds, true group means, each strategy's target, residual arrows."""
    pts, lab, grp = data.points.numpy(), data.labels.numpy(), data.groups.numpy()
    for a in range(data.n_groups):
        m = grp == a
        ax.scatter(*pts[m].T, s=5, alpha=0.35, color=_FALLBACK[a], label=f"group {a}")
    cm = data.centres.numpy()
    for c in range(data.n_classes):
        for a in range(data.n_groups):
            ax.scatter(*cm[c, a], s=70, color=_FALLBACK[a], edgecolors="k", zorder=3)
    markers = {"vanilla": "X", "uniform": "s", "fairdd": "P", "cobra": "*"}
    for name, t in targets.items():
        ax.scatter(*t.numpy().T, s=160 if name == "cobra" else 90, marker=markers.get(name, "o"),
                   color=STRATEGY_COLOURS.get(name, "k"), edgecolors="k", zorder=4, label=name)
    t = targets[residual_of].numpy()
    for c in range(data.n_classes):
        for a in range(data.n_groups):
            ax.annotate("", xy=cm[c, a], xytext=t[c], arrowprops=dict(arrowstyle="->", color="0.3", lw=0.8))
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="best")


def plot_dataset_samples(ax, ds, *, per_group: int = 6, class_id: int = 0) -> None:
    """A row of ``per_group`` images of class ``class_id`` for every group (one row per group)."""
    rows, labels = [], []
    for a in range(ds.n_groups):
        idx = ((ds.labels == class_id) & (ds.groups == a)).nonzero().flatten()[:per_group]
        rows.append(ds.display(ds.images[idx]))
        labels.append(torch.full((len(idx),), a))
    plot_images(ax, torch.cat(rows), torch.cat(labels))
    ax.set_title(f"class {ds.class_names[class_id]!r}: one row per group", fontsize=9)


def plot_study(df, *, metric: str = "eod", kind: str = "heatmap"):
    """The imbalance × separation study: per target a heatmap (imbalance × severity) of ``metric``
    averaged over seeds, or line plots of ``metric`` against imbalance, one line per severity."""
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
