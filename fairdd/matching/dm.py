"""Distribution matching (DM): match mean embeddings under a freshly sampled random ConvNet.

Per iteration, with a new network θ (optionally warm-started on S for K epochs) and one Siamese
augmentation draw ω_c per class,

    L(S) = Σ_c Σ_k w_{c,k} · D( refs_{c,k},  mean_j ψ_θ(A_{ω_c}(s_{c,j})) )

where (refs, w) = strategy(ψ_θ(A_{ω_c}(x_i)) for the real batch) and D is the distance of the targets'
kind (``matching.distances``: the squared L2 or L1 distance of means for moment targets, sliced W2
for clouds, mean and covariance for Gaussians). All classes go through the network in one forward
pass; group statistics are segment means (no loop over classes or groups).

``refresh_every = k > 1`` (not DM's protocol, a speed lever) keeps the network, the augmentation draw
and the real batch's targets (the barycenter included) for k iterations: between refreshes an
iteration is only the synthetic forward/backward. The targets live in the embedding space of the
network they were computed with, so they cannot be reused across network draws; holding the network
is what makes reuse possible, and what it costs in accuracy is measured in docs/performance.md.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from ..augment import AugmentParams, apply, sample_params
from ..config import DistillConfig
from ..levers import autocast, compiled
from ..models import cpu_chunk, reset_parameters
from ..targets.base import Strategy, Targets
from ..train import train_classifier
from .base import Matcher
from .distances import DISTANCES, target_distance

__all__ = ["DMMatcher", "dm_loss", "match", "embed", "embed_real"]


@torch.no_grad()
def embed_real(net, images: torch.Tensor, params, rows: torch.Tensor | None, *, chunk: int = 0,
               precision: str = "fp32", channels_last: bool = False, compile: bool | str = False) -> torch.Tensor:
    """Embeddings (M, d) of the augmented real batch (M, C, H, W), without autograd, in fp32.

    ``params``/``rows``: the Siamese augmentation draws and each image's row (None: no augmentation).
    ``chunk`` images go through the network at a time; 0 = all at once on a GPU, a cache-sized chunk on CPU
    (``fairdd.models.cpu_chunk``: 128 at width 16, 16 at width 128; the same bits at any size).
    """
    chunk = chunk or (images.shape[0] if images.device.type != "cpu" else cpu_chunk(net, images.shape[-2:]))
    out = []
    for i in range(0, images.shape[0], chunk):  # one pass on a GPU; cache-sized passes on a CPU
        x = images[i:i + chunk]
        if params is not None:
            x = apply(x, params, rows[i:i + chunk])
        out.append(embed(net, x, precision=precision, channels_last=channels_last, compile=compile))
    return torch.cat(out)


def embed(net, x: torch.Tensor, *, precision: str = "fp32", channels_last: bool = False,
          compile: bool | str = False) -> torch.Tensor:
    """``net.embed(x)`` with the speed levers: NHWC layout, bf16 autocast and torch.compile; fp32 (N, d)."""
    fn = compiled(net, "embed", compile) if compile else net.embed
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(x.device, precision):
        out = fn(x).float()
    # CUDA-graph replays reuse their output memory: keep a copy of what outlives the next call
    return out.clone() if compile == "reduce-overhead" and out.is_cuda else out


def dm_loss(emb_real: torch.Tensor, real_labels: torch.Tensor, real_groups: torch.Tensor,
            emb_syn: torch.Tensor, *, strategy: Strategy, n_classes: int, n_groups: int,
            distance: str = "l2", generator: torch.Generator | None = None) -> torch.Tensor:
    """Compute the DM matching loss from embeddings.

    Parameters
    ----------
    emb_real : (M, d) real embeddings with labels/groups (M,).
    emb_syn : (n_classes · ipc, d) synthetic embeddings, sorted by class (ipc per class).
    """
    targets = strategy(emb_real, real_labels, real_groups, n_classes, n_groups)  # refs (C, K, d), w (C, K)
    return match(targets, emb_syn, n_classes=n_classes, distance=distance, generator=generator)


def match(targets: Targets, emb_syn: torch.Tensor, *, n_classes: int, distance: str = "l2",
          generator: torch.Generator | None = None) -> torch.Tensor:
    """Compute the DM loss between a strategy's ``targets`` and the synthetic embeddings (n_classes · ipc, d).

    The distance is the one of the targets' kind (``fairdd.matching.distances``).
    """
    return target_distance(targets, emb_syn, n_classes=n_classes, distance=distance, generator=generator)


class DMMatcher(Matcher):
    r"""Distribution matching with a ConvNet re-drawn from the run's generator every iteration.

    .. math::
        L(S) = \sum_c \sum_k w_{c,k}\, D_{\mathrm{kind}}\Big(\mathrm{refs}_{c,k},
               \{\psi_\theta(A_{\omega_c}(s_{c,j}))\}_{j=1}^{\mathrm{ipc}}\Big),\qquad
        (\mathrm{refs}, w) = \mathcal T\big(\{\psi_\theta(A_{\omega_c}(x_i)), y_i, a_i\}_i\big)

    with :math:`\psi_\theta` the embedding of a fresh ConvNet θ (warm-started on S for
    ``warm_start_epochs`` epochs when asked), :math:`A_{\omega_c}` the Siamese augmentation shared by
    the real and synthetic images of class c, :math:`\mathcal T` the strategy and
    :math:`D_{\mathrm{kind}}` the distance of its targets' kind. Supports every kind that has a
    distance in ``fairdd.matching.distances.DISTANCES``.

    Parameters
    ----------
    config : DistillConfig
        Reads ``width``, ``depth``, ``norm``, ``dsa``, ``distance``, ``warm_start_*``,
        ``refresh_every``, ``precision``, ``channels_last``, ``compile``.
    in_channels, n_classes, n_groups, image_size : int
        The training set's image channels and side, class and group counts.
    device : torch.device

    References
    ----------
    [1] Zhao & Bilen, "Dataset Condensation with Distribution Matching", WACV 2023.

    [2] Zhao & Bilen, "Dataset Condensation with Differentiable Siamese Augmentation", ICML 2021.
    """

    name: ClassVar[str] = "dm"

    def __init__(self, config: DistillConfig, **kw) -> None:
        super().__init__(config, **kw)
        if config.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self._held: dict | None = None  # network draw, augmentation draw and targets in use
        self._age = 0  # iterations they have been used for (a refresh every config.refresh_every)

    @classmethod
    def supports(cls, kind: str) -> bool:
        """Whether ``kind`` has an embedding distance (``fairdd.matching.distances.DISTANCES``)."""
        return kind in DISTANCES  # any kind with a registered embedding distance

    def iteration(self, syn, syn_labels, optimizer, sample_real, strategy, generator) -> torch.Tensor:
        """Run one DM step (a new network, batch and targets every ``refresh_every`` iterations)."""
        cfg = self.config
        if self._held is None or self._age >= cfg.refresh_every:
            self._held, self._age = self._refresh(syn, syn_labels, sample_real, strategy, generator), 0
        self._age += 1
        params, targets = self._held["params"], self._held["targets"]
        # Siamese: the synthetic images of a class share the draw its real images were embedded with
        x = apply(syn, params, syn_labels) if params is not None else syn
        emb_syn = embed(self.net, x, precision=cfg.precision, channels_last=cfg.channels_last,
                        compile=cfg.compile)  # (C·ipc, d)
        loss = match(targets, emb_syn, n_classes=self.n_classes, distance=cfg.distance, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def _refresh(self, syn, syn_labels, sample_real, strategy, generator) -> dict:
        """Draw (and warm-start) a network, a real batch and an augmentation draw; return the targets."""
        cfg, net = self.config, self.net
        reset_parameters(net, generator)
        if cfg.warm_start_epochs:
            net.requires_grad_(True)
            train_classifier(net, syn, syn_labels, epochs=cfg.warm_start_epochs, lr=cfg.warm_start_lr,
                             momentum=cfg.warm_start_momentum, weight_decay=cfg.warm_start_weight_decay,
                             batch_size=cfg.warm_start_batch,
                             dsa=cfg.dsa, lr_decay=False, generator=generator,
                             precision=cfg.precision, compile=cfg.compile)
        net.requires_grad_(False)
        real = sample_real()
        params = sample_params(self.n_classes, generator=generator, device=syn.device) if cfg.dsa else None
        emb_real = embed_real(net, real.images, params, real.labels, precision=cfg.precision,
                              channels_last=cfg.channels_last, compile=cfg.compile)  # (M, d)
        targets = strategy(emb_real, real.labels, real.groups, self.n_classes, self.n_groups)
        return {"params": params, "targets": targets}

    # What is held between refreshes (refresh_every > 1) is checkpointed, so a resumed run is exact.
    def state_dict(self) -> dict:
        """Return the network, augmentation draw and targets held between refreshes ({} when none)."""
        if self._held is None or self.config.refresh_every == 1:
            return {}
        params, t = self._held["params"], self._held["targets"]
        return {"age": torch.tensor(self._age), "net": {k: v.cpu() for k, v in self.net.state_dict().items()},
                "params": {} if params is None else {f: getattr(params, f).cpu() for f in params.__dataclass_fields__},
                "refs": t.refs.cpu(), "weights": t.weights.cpu(), "kind": t.kind,
                "extra": {k: v.cpu() for k, v in (t.extra or {}).items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``."""
        if not state:
            self._held, self._age = None, 0
            return
        dev = next(self.net.parameters()).device
        self.net.load_state_dict(state["net"])
        params = AugmentParams(**{f: v.to(dev) for f, v in state["params"].items()}) if state["params"] else None
        extra = {k: v.to(dev) for k, v in state["extra"].items()} or None
        targets = Targets(state["refs"].to(dev), state["weights"].to(dev), state["kind"], extra)
        self._held, self._age = {"params": params, "targets": targets}, int(state["age"])
