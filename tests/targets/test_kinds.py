"""A new distributional target kind needs one Strategy subclass and one distance, nothing else.

The toy kind below ("meanstd": per class the group-averaged mean and per-coordinate standard
deviation of the embeddings) is defined here, registered through the public hooks, and distilled.
"""
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

import fairdd
from fairdd.matching import MATCHERS, dm_loss
from fairdd.matching.distances import DISTANCES, register_distance
from fairdd.targets import STRATEGIES, Strategy, Targets, cell_means, register_strategy

from conftest import SMOKE


@dataclass(frozen=True)
class MeanStd(Strategy):
    """Per class: the mean over present groups of each group's mean and standard deviation, (C, 1, d)."""

    name: ClassVar[str] = "toy-meanstd"
    kind: ClassVar[str] = "meanstd"

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
        mean, count = cell_means(stats, labels, groups, n_classes, n_groups)  # (C, G, d), (C, G)
        square, _ = cell_means(stats.pow(2), labels, groups, n_classes, n_groups)
        std = (square - mean.pow(2)).clamp(min=0).sqrt()  # (C, G, d)
        present = (count > 0).to(stats.dtype)
        share = present / present.sum(1, keepdim=True).clamp(min=1)  # (C, G)
        weights = (present.sum(1, keepdim=True) > 0).to(stats.dtype)  # (C, 1)
        return Targets(torch.einsum("cg,cgd->cd", share, mean).unsqueeze(1), weights, kind=self.kind,
                       extra={"std": torch.einsum("cg,cgd->cd", share, std)})


def meanstd_distance(targets, emb_syn, *, n_classes, distance="l2", generator=None):
    z = emb_syn.view(n_classes, -1, emb_syn.shape[-1])  # (C, ipc, d)
    gap = (z.mean(1) - targets.refs[:, 0]).pow(2) + (z.std(1, unbiased=False) - targets.extra["std"]).pow(2)
    return (targets.weights[:, 0] * gap.sum(-1)).sum()


@pytest.fixture
def toy_kind():
    register_strategy(MeanStd)
    register_distance(MeanStd.kind, meanstd_distance)
    yield MeanStd
    del STRATEGIES[MeanStd.name], DISTANCES[MeanStd.kind]


def test_dm_matches_a_new_kind_with_its_registered_distance(toy_kind):
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(40, 6, generator=g)
    labels, groups = torch.arange(40) % 2, torch.arange(40) // 2 % 3
    syn = torch.randn(2 * 3, 6, generator=g, requires_grad=True)
    loss = dm_loss(emb, labels, groups, syn, strategy=toy_kind(), n_classes=2, n_groups=3)
    by_hand = 0.0
    for c in range(2):  # recompute the target class by class, group by group
        cls = [emb[(labels == c) & (groups == a)] for a in range(3)]
        ref_mean = torch.stack([x.mean(0) for x in cls]).mean(0)
        ref_std = torch.stack([x.std(0, unbiased=False) for x in cls]).mean(0)
        z = syn.detach()[3 * c:3 * c + 3]
        by_hand += float(((z.mean(0) - ref_mean).pow(2) + (z.std(0, unbiased=False) - ref_std).pow(2)).sum())
    assert float(loss.detach()) == pytest.approx(by_hand, rel=1e-5)
    loss.backward()
    assert float(syn.grad.abs().sum()) > 0  # the distance moves the synthetic points


def test_a_new_kind_distils_with_dm_and_is_refused_by_gradient_matchers(digits_train, toy_kind):
    assert MATCHERS["dm"].supports("meanstd") and not MATCHERS["dc"].supports("meanstd")
    r = fairdd.distill(digits_train, target=toy_kind.name, ipc=2, iterations=3, **SMOKE)
    losses = [h["loss"] for h in r.history]
    assert len(losses) == 3 and all(0 < v < float("inf") for v in losses)
    assert r.config["target"] == "toy-meanstd" and torch.isfinite(r.images).all()
    with pytest.raises(ValueError, match="target 'toy-meanstd' compares embedding clouds: use method='dm'"):
        fairdd.distill(digits_train, method="dc", target=toy_kind.name, ipc=1, **SMOKE)
    with pytest.raises(ValueError, match=r"group_weights is used only by the targets \['cobra', 'cobra-w2'"):
        fairdd.distill(digits_train, target=toy_kind.name, ipc=1, group_weights="proportional", **SMOKE)


def test_registration_hooks_refuse_clashes_and_incomplete_classes():
    with pytest.raises(ValueError, match="'cobra' is already registered"):
        register_strategy(type("Other", (MeanStd,), {"name": "cobra"}))
    with pytest.raises(ValueError, match="must set the class variables name and kind"):
        register_strategy(type("NoKind", (Strategy,), {"name": "nokind"}))
    with pytest.raises(ValueError, match="'moments' already has a distance"):
        register_distance("moments", meanstd_distance)
    assert "toy-meanstd" not in STRATEGIES and "meanstd" not in DISTANCES


def test_the_registry_is_complete_from_any_single_import():
    import subprocess
    import sys

    code = ("import sys; from fairdd.targets.moments import Cobra; "
            "print(sorted(sys.modules['fairdd.targets.registry'].STRATEGIES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(sorted(["vanilla", "uniform", "fairdd", "cobra", "cobra-w2", "cobra-gauss", "cobra-mix"]))
