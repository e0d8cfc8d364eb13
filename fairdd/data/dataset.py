"""`GroupedDataset`: images with a class label and a protected-group label per sample."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal, Sequence

import torch

from ..display import denormalise
from ..ops import cell_counts, cell_index
from ..validate import check_dtype, describe_value

__all__ = ["GroupedDataset", "SegmentSampler", "segment_sample", "check_dataset"]


# info entries that describe a load (cache use, where the files were found), not the data: not fingerprinted
_LOAD_ONLY = ("cache_hit", "root", "cache_dir", "split_value", "test_unlabelled_dropped")


@dataclass(frozen=True, eq=False)
class GroupedDataset:
    """A labelled image set whose samples also carry a protected-group label.

    Parameters
    ----------
    images : torch.Tensor, shape (N, C, H, W), float32
        Normalised per channel to ``(x - mean) / std``.
    labels : torch.Tensor, shape (N,), int64
        Class in ``[0, n_classes)``.
    groups : torch.Tensor, shape (N,), int64
        Protected group in ``[0, n_groups)``.
    class_names, group_names : tuple of str
        One name per class / group id.
    mean, std : tuple of float
        Per-channel normalisation, used to turn images back into [0, 1] for display.
    info : dict
        How the set was built (builder name and knobs), recorded in results.
    known : torch.Tensor, shape (N,), bool, optional
        Which samples carry a group label (None = all).
    """

    images: torch.Tensor
    labels: torch.Tensor
    groups: torch.Tensor
    class_names: tuple[str, ...]
    group_names: tuple[str, ...]
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    info: dict = field(default_factory=dict)
    known: torch.Tensor | None = None  # (N,) bool: which samples carry a group label (None = all)
    # batch samplers worked out from labels/groups on first use (the tensors are not changed in place)
    _samplers: dict = field(default_factory=dict, init=False, repr=False)
    _facts: dict = field(default_factory=dict, init=False, repr=False)  # fingerprint, finiteness: worked out once

    def __post_init__(self) -> None:
        """Check dtypes, shapes and ids (``ValueError`` naming what is wrong)."""
        check_dtype("images", self.images, (torch.float32,), "normalised float32 images: use images.float()")
        check_dtype("labels", self.labels, (torch.int64,), "class ids: use labels.long()")
        check_dtype("groups", self.groups, (torch.int64,), "group ids: use groups.long()")
        if self.known is not None:
            check_dtype("known", self.known, (torch.bool,), "which samples carry a group label: use known.bool()")
        n = self.images.shape[0]
        if self.images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W); got {tuple(self.images.shape)}")
        if self.labels.shape != (n,) or self.groups.shape != (n,):
            raise ValueError(
                f"labels and groups must have shape ({n},); got {tuple(self.labels.shape)} "
                f"and {tuple(self.groups.shape)}"
            )
        if self.known is not None and self.known.shape != (n,):
            raise ValueError(f"known must have shape ({n},); got {tuple(self.known.shape)}")
        for name, ids, k in (("labels", self.labels, self.n_classes), ("groups", self.groups, self.n_groups)):
            if n and (int(ids.min()) < 0 or int(ids.max()) >= k):
                raise ValueError(f"{name} must lie in [0, {k}); got range [{int(ids.min())}, {int(ids.max())}]")

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        """Give the number of images."""
        return int(self.images.shape[0])

    @property
    def n_classes(self) -> int:
        """C, the number of classes."""
        return len(self.class_names)

    @property
    def n_groups(self) -> int:
        """G, the number of protected groups."""
        return len(self.group_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def cell_counts(self) -> torch.Tensor:
        """Count the samples per (class, group) cell, shape (n_classes, n_groups)."""
        return cell_counts(cell_index(self.labels, self.groups, self.n_groups), self.n_classes, self.n_groups)

    def counts(self):
        """Give the (class × group) count table as a pandas DataFrame, with totals."""
        import pandas as pd

        table = pd.DataFrame(
            self.cell_counts().cpu().numpy(), index=list(self.class_names), columns=list(self.group_names)
        )
        table.index.name, table.columns.name = "class", "group"
        table["total"] = table.sum(axis=1)
        return table

    def check_complete(self, what: str = "dataset") -> None:
        """Raise ``ValueError`` if some (class, group) cell has no sample (metrics need every cell)."""
        empty = (self.cell_counts() == 0).nonzero().tolist()
        if empty:
            cells = ", ".join(f"({self.class_names[c]!r}, {self.group_names[g]!r})" for c, g in empty[:8])
            more = f" and {len(empty) - 8} more" if len(empty) > 8 else ""
            raise ValueError(
                f"{what} has no samples for {len(empty)} (class, group) cell(s): {cells}{more}; "
                "every class needs every group (choose fewer groups or more data)"
            )

    # ------------------------------------------------------------ provenance
    def fingerprint(self) -> dict:
        """Give what identifies this set, recorded in results and checkpoints (JSON-ready).

        ``name``/``split`` and the build knobs (from ``info``), sizes (samples, classes, groups, image
        shape, per-(class, group) counts), the class and group names, and ``content_sha256``: a
        hash of all labels and groups and of up to 256 evenly spaced images (cheap, but any rebuild
        with other data, order or knobs changes it).
        """
        if "fingerprint" not in self._facts:
            n = len(self)
            h = hashlib.sha256()
            for t in (self.labels, self.groups) + (() if self.known is None else (self.known,)):
                h.update(t.detach().cpu().contiguous().numpy().tobytes())
            pick = torch.linspace(0, max(n - 1, 0), min(n, 256)).round().long()  # (≤256,)
            h.update(self.images[pick.to(self.images.device)].detach().float().cpu().contiguous().numpy().tobytes())
            info = json.loads(json.dumps(self.info, default=str))
            for key in _LOAD_ONLY:  # how this copy was loaded, not what it holds
                info.pop(key, None)
            self._facts["fingerprint"] = {
                "name": info.pop("name", None), "split": info.pop("split", None), "build": info,
                "n": n, "n_classes": self.n_classes, "n_groups": self.n_groups, "image_shape": list(self.image_shape),
                "class_names": list(self.class_names), "group_names": list(self.group_names),
                "cell_counts": self.cell_counts().flatten().tolist(), "content_sha256": h.hexdigest()[:32],
            }
        return self._facts["fingerprint"]

    def describe(self) -> dict:
        """Give the record a result keeps of its training set: names, normalisation, build knobs, fingerprint."""
        return dict(class_names=list(self.class_names), group_names=list(self.group_names), mean=list(self.mean),
                    std=list(self.std), info=self.info, fingerprint=self.fingerprint())

    def card(self, test: "GroupedDataset | None" = None, *, ipc: int | None = None):
        """Describe this set (and ``test``): counts, imbalance, the test set's EOD noise floor, problems."""
        from .card import describe

        return describe(self, test, ipc=ipc)

    def check_finite(self, what: str = "images") -> None:
        """Raise ``ValueError`` (``NonFiniteError``) if an image holds NaN or infinity."""
        if not self._facts.get("finite"):
            from ..validate import check_finite

            check_finite(what, self.images)
            self._facts["finite"] = True

    # ------------------------------------------------------------- transforms
    @property
    def fully_labelled(self) -> bool:
        """Whether every sample carries a group label."""
        return self.known is None or bool(self.known.all())

    def to(self, device: torch.device | str) -> "GroupedDataset":
        """Give the same set with its tensors on ``device``."""
        return self._replace(images=self.images.to(device), labels=self.labels.to(device), groups=self.groups.to(device),
                             known=None if self.known is None else self.known.to(device))

    def subset(self, index: torch.Tensor) -> "GroupedDataset":
        """Select the samples at ``index`` (a LongTensor or bool mask)."""
        return self._replace(images=self.images[index], labels=self.labels[index], groups=self.groups[index],
                             known=None if self.known is None else self.known[index])

    def select_groups(self, groups: Sequence[int | str]) -> "GroupedDataset":
        """Keep only the samples of ``groups`` (ids or names) and renumber the groups 0..k-1."""
        ids = [self.group_id(g) for g in groups]
        if len(set(ids)) != len(ids) or not ids:
            raise ValueError(f"groups must be a non-empty list of distinct groups; got {list(groups)}")
        remap = torch.full((self.n_groups,), -1, dtype=torch.long)
        remap[ids] = torch.arange(len(ids))
        new_groups = remap.to(self.groups.device)[self.groups]  # (N,)
        keep = new_groups >= 0
        return GroupedDataset(
            images=self.images[keep], labels=self.labels[keep], groups=new_groups[keep],
            class_names=self.class_names, group_names=tuple(self.group_names[i] for i in ids),
            mean=self.mean, std=self.std, info={**self.info, "groups": [self.group_names[i] for i in ids]},
            known=None if self.known is None else self.known[keep],
        )

    def group_id(self, group: int | str) -> int:
        """Give the id of a group given by id or name (checked)."""
        import numbers

        if isinstance(group, bool) or not isinstance(group, (numbers.Integral, str)):
            raise ValueError(f"a group is an id (int) or a name {list(self.group_names)}; got {group!r} "
                             f"({type(group).__name__})")
        if isinstance(group, str):
            if group not in self.group_names:
                raise ValueError(f"unknown group {group!r}; allowed: {list(self.group_names)}")
            return self.group_names.index(group)
        if not 0 <= int(group) < self.n_groups:
            raise ValueError(f"group id {group} outside [0, {self.n_groups})")
        return int(group)

    def display(self, images: torch.Tensor | None = None) -> torch.Tensor:
        """Map images back to [0, 1] for plotting, shape (N, C, H, W) (``fairdd.display.denormalise``)."""
        return denormalise(self.images if images is None else images, self.mean, self.std)

    def _replace(self, **kw) -> "GroupedDataset":
        fields = dict(images=self.images, labels=self.labels, groups=self.groups, class_names=self.class_names,
                      group_names=self.group_names, mean=self.mean, std=self.std, info=self.info, known=self.known)
        fields.update(kw)
        return GroupedDataset(**fields)

    # ---------------------------------------------------------------- batches
    def sample_batch(
        self,
        batch_per_class: int,
        *,
        balance: Literal["pooled", "groups"] = "pooled",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw the indices of a real batch per class, sorted by class.

        ``balance="pooled"`` draws up to ``batch_per_class`` samples of each class without replacement
        (fewer if the class is smaller), so groups appear in their training proportions.
        ``balance="groups"`` gives each group present in a class the same share,
        ``batch_per_class // n_present``, drawn without replacement and topped up with replacement
        when a group is too small (Uniform DD).

        Returns
        -------
        index : LongTensor, shape (M,), on the dataset's device.
        """
        if balance not in ("pooled", "groups"):
            raise ValueError(f"balance must be 'pooled' or 'groups'; got {balance!r}")
        key = (balance, batch_per_class)  # a dataset lives on one device (``to`` makes a new one)
        if key not in self._samplers:  # worked out once per dataset: a draw is then free of host syncs
            self._samplers[key] = self._sampler(balance, batch_per_class)
        return self._samplers[key](generator)

    def _sampler(self, balance: str, batch_per_class: int) -> "SegmentSampler":
        if balance == "pooled":
            return SegmentSampler(self.labels, self.n_classes, batch_per_class, fill=False)
        counts = self.cell_counts()  # (C, G)
        present = (counts > 0).sum(1).clamp(min=1)  # (C,)
        per_cell = (batch_per_class // present).clamp(min=1)  # (C,)
        cell = cell_index(self.labels, self.groups, self.n_groups)  # (N,)
        k = per_cell.repeat_interleave(self.n_groups)  # (C*G,)
        return SegmentSampler(cell, self.n_classes * self.n_groups, k, fill=True)


def check_dataset(name: str, value) -> GroupedDataset:
    """Refuse anything but a non-empty ``GroupedDataset`` as the argument ``name``.

    Raises
    ------
    ValueError
        Naming ``name`` and the value received.
    """
    if not isinstance(value, GroupedDataset):
        raise ValueError(f"{name} must be a fairdd GroupedDataset (e.g. fairdd.datasets.load(...)); "
                         f"got {describe_value(value)}")
    if len(value) == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    return value


def segment_sample(
    segment: torch.Tensor,
    n_segments: int,
    k: int | torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    fill: bool = False,
) -> torch.Tensor:
    """Draw ``k`` indices per segment in one vectorised call, returned sorted by segment.

    Within a segment of size n, the first ``min(k, n)`` draws are without replacement (random keys
    sorted per segment); with ``fill=True`` the remaining ``k - n`` are drawn with replacement so
    every non-empty segment yields exactly ``k``. A one-off draw of ``SegmentSampler``.

    Parameters
    ----------
    segment : LongTensor, shape (N,), segment id of each sample.
    k : int or LongTensor of shape (n_segments,), draws per segment.
    """
    return SegmentSampler(segment, n_segments, k, fill=fill)(generator)


class SegmentSampler:
    """``segment_sample`` with everything that depends only on the segments worked out once.

    Which sorted positions are kept, how many draws each segment still owes and the final order
    by segment do not depend on the random keys, so a draw is a sort of random keys and a few
    gathers: no host sync, the same indices as ``segment_sample`` for the same generator state.
    """

    def __init__(self, segment: torch.Tensor, n_segments: int, k: int | torch.Tensor, *, fill: bool = False) -> None:
        device = segment.device
        n = segment.numel()
        k_t = torch.as_tensor(k, device=device).expand(n_segments)  # (S,)
        size = torch.bincount(segment, minlength=n_segments)  # (S,)
        start = torch.cumsum(size, 0) - size  # (S,)
        sorted_seg = torch.sort(segment).values  # (N,) the segment of each sorted position
        rank = torch.arange(n, device=device) - start[sorted_seg]  # (N,) rank inside the segment
        self.sort_base = segment.double()  # + keys in [0, 1): sorts by segment, then by key inside it
        self.pick = (rank < k_t[sorted_seg]).nonzero().squeeze(1)  # (M1,) kept sorted positions
        self.n = n
        short = (k_t - size).clamp(min=0) * (size > 0) if fill else size.new_zeros(n_segments)  # draws owed
        self.n_extra = int(short.sum())
        if self.n_extra:
            seg_rep = torch.repeat_interleave(torch.arange(n_segments, device=device), short)  # (M2,)
            self.extra_start, self.extra_size = start[seg_rep], size[seg_rep]  # (M2,)
            seg_of = torch.cat([sorted_seg[self.pick], seg_rep])  # (M1 + M2,)
            self.order_by_segment = torch.sort(seg_of, stable=True).indices

    def __call__(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw one sample of indices, in segment order, from ``generator``."""
        keys = torch.rand(self.n, generator=generator, device=self.sort_base.device)  # (N,)
        order = torch.argsort(self.sort_base + keys.double())  # (N,) sorted by (segment, key)
        picked = order[self.pick]  # (M1,) already in segment order
        if not self.n_extra:
            return picked
        u = torch.rand(self.n_extra, generator=generator, device=keys.device)  # (M2,)
        extra = order[self.extra_start + (u * self.extra_size).long().clamp(max=self.extra_size - 1)]  # (M2,)
        return torch.cat([picked, extra])[self.order_by_segment]
