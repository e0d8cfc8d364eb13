"""Entry points for your own data: folders with a metadata CSV, class folders, arrays, torchvision, Hugging Face.

Each reads its source into a ``fairdd.data.own.Table`` and hands it to ``fairdd.data.own.build``, so the
class and group ids, the split, the normalisation and the checks are the same whatever the source
(see ``fairdd.data.own``). Common options:

split : the split to return ("train", "test", a raw value of the split column, or None for every row).
split_values : names of raw split values, default ``{"train": 0, "val": 1, "test": 2}`` (Waterbirds).
size, crop, channels : the images' side in pixels, "center" | "none", 3 (RGB) or 1 (grey).
test_per_cell, seed : the balanced test set drawn when the source has no splits.
max_groups : more distinct groups than this is an error (default: the palette's 10 colours).
missing_groups : rows without a group are kept unknown ("keep") or given pseudo-groups ("infer").
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..validate import check_int, check_seed
from .dataset import GroupedDataset
from .own import CROPS, IMAGE_SUFFIXES, MAX_GROUPS, Table, build, cached_files, read_image

__all__ = ["from_folder", "from_image_folder", "from_arrays", "from_torchvision", "from_huggingface"]


def _check_image_options(size, crop, channels, seed: int = 0, max_groups: int = MAX_GROUPS) -> None:
    check_int("size", size, 4, 4096)
    check_seed(seed)
    check_int("max_groups", max_groups, 1)
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {list(CROPS)}; got {crop!r}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB); got {channels!r}")


def _check_root(root) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path; got {type(root).__name__}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder {path} not found (or not a folder)")
    return path


def _read_metadata(root: Path, metadata, columns: dict[str, str]):
    """Read the metadata rows as one string-valued frame; a mapping {split name: file} adds the column ``__split__``."""
    import pandas as pd

    files = dict(metadata) if isinstance(metadata, Mapping) else {None: metadata}
    frames = []
    for split_name, name in files.items():
        path = root / name
        if not path.is_file():
            here = sorted(p.name for p in root.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".txt"))
            raise FileNotFoundError(f"metadata file {path} not found; table files in {root}: {here}")
        frame = pd.read_csv(path, dtype=str, sep="\t" if path.suffix.lower() == ".tsv" else ",",
                            encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not part of the first name
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = {role: col for role, col in columns.items() if col not in frame.columns}
        if missing:
            asked = ", ".join(f"{role}={col!r}" for role, col in missing.items())
            hint = ("; without a split column pass split_column=None (--split-column none): a balanced test set "
                    "is drawn") if "split_column" in missing else ""
            raise ValueError(f"{path.name} has no column for {asked}; its columns are {list(frame.columns)}{hint}")
        if split_name is not None:
            frame["__split__"] = split_name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), " / ".join(str(f) for f in files.values())


def _column(frame, name: str) -> np.ndarray:
    return np.array([None if v is None or (isinstance(v, float) and v != v) else v for v in frame[name]],
                    dtype=object)


def from_folder(root, *, metadata: str | Mapping[str, str] = "metadata.csv", image: str = "img_filename",
                label: str | None = "y", group: str | Callable[[str], Any] = "place",
                split_column: str | None = "split", split: Any = "train", split_values: Mapping | None = None,
                size: int = 32, crop: str = "center", channels: int = 3, test_per_cell: int | None = None,
                seed: int = 0, max_groups: int = MAX_GROUPS, missing_groups: str = "keep", cache_dir=None,
                use_cache: bool = True, workers: int | None = None) -> GroupedDataset:
    """Load a folder of images described by a metadata table (Waterbirds, FairFace, ISIC, a clinic's own set).

    Parameters
    ----------
    root : the folder; ``image`` paths are relative to it.
    metadata : the table file under ``root`` (CSV; ``.tsv`` tab-separated), or a mapping
        ``{split name: file}`` when each split has its own file (FairFace's label CSVs).
    image : the column of image paths.
    label : the column of classes; None takes the class from each image's first folder (class folders).
    group : the column of protected groups (empty cells: unknown group), or a function of the image path.
    split_column : the column of split values; None when there is none (a balanced test set is drawn),
        ignored when ``metadata`` is a mapping.

    Other options: see the module docstring. Returns the ``split`` as a ``GroupedDataset`` (N, C, size, size).
    """
    _check_image_options(size, crop, channels, seed, max_groups)
    path = _check_root(root)
    by_file = isinstance(metadata, Mapping)
    columns = {"image": image, **({"label": label} if label is not None else {}),
               **({"group": group} if isinstance(group, str) else {}),
               **({"split_column": split_column} if split_column is not None and not by_file else {})}
    if not (isinstance(group, str) or callable(group)):
        raise TypeError(f"group must be a column name or a function of the image path; got {type(group).__name__}")
    frame, source = _read_metadata(path, metadata, columns)
    files = [str(f).strip() if f is not None else "" for f in _column(frame, image)]
    blank = [i for i, f in enumerate(files) if not f]
    if blank:
        raise ValueError(f"column {image!r} of {source} is empty on {len(blank)} row(s) (rows {blank[:5]})")
    images, distinct, hit = cached_files(path, files, size=size, crop=crop, channels=channels, workers=workers,
                                         cache_dir=cache_dir, use_cache=use_cache,
                                         named_in=f" named in column {image!r} of {source}")
    where = {f: i for i, f in enumerate(distinct)}
    labels = _column(frame, label) if label is not None else np.array([Path(f).parts[0] for f in files], dtype=object)
    groups = _column(frame, group) if isinstance(group, str) else np.array([group(f) for f in files], dtype=object)
    splits = frame["__split__"].to_numpy(dtype=object) if by_file else (
        _column(frame, split_column) if split_column is not None else None)
    words = {"source": source, "label": f"column {label!r}" if label else "the class folders",
             "group": f"column {group!r}" if isinstance(group, str) else "the group function",
             "split": "file" if by_file else f"column {split_column!r}"}
    table = Table(images=images[[where[f] for f in files]], labels=labels, groups=groups, splits=splits, words=words)
    info = dict(name=f"folder:{root}", root=str(path.resolve()), metadata=dict(metadata) if by_file else metadata, image=image, label=label,
                group=group if isinstance(group, str) else getattr(group, "__name__", "function"),
                split_column=split_column, split_values=None if split_values is None else dict(split_values),
                size=size, crop=crop, channels=channels, max_groups=max_groups, missing_groups=missing_groups,
                cache_hit=hit)
    return build(table, split=split, split_values=split_values, test_per_cell=test_per_cell, seed=seed,
                 max_groups=max_groups, missing_groups=missing_groups, info=info)


def from_image_folder(root, *, group: Callable[[str], Any], split: Any = "train", size: int = 32,
                      crop: str = "center", channels: int = 3, test_per_cell: int | None = None, seed: int = 0,
                      max_groups: int = MAX_GROUPS, missing_groups: str = "keep", cache_dir=None,
                      use_cache: bool = True, workers: int | None = None) -> GroupedDataset:
    """Class folders (``root/<class>/.../<image>``, torchvision's ImageFolder layout), groups from a function.

    ``group(path)`` gives the group of an image from its path relative to ``root`` (None: unknown). With a
    table of groups instead, use ``from_folder(root, metadata=..., label=None, group="column")``. A
    balanced test set is drawn (``test_per_cell``, ``seed``); other options: see the module docstring.
    """
    _check_image_options(size, crop, channels, seed, max_groups)
    path = _check_root(root)
    if not callable(group):
        raise TypeError(f"group must be a function of the image path; got {type(group).__name__} (a group column "
                        "goes through from_folder(root, metadata=..., label=None, group='column'))")
    files = sorted(str(p.relative_to(path)) for d in sorted(path.iterdir()) if d.is_dir()
                   for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in class folders under {path}")
    images, _, hit = cached_files(path, files, size=size, crop=crop, channels=channels, workers=workers,
                                  cache_dir=cache_dir, use_cache=use_cache)
    table = Table(images=images, labels=np.array([Path(f).parts[0] for f in files], dtype=object),
                  groups=np.array([group(f) for f in files], dtype=object),
                  words={"source": str(path), "label": "the class folders", "group": "the group function"})
    info = dict(name=f"image-folder:{root}", group=getattr(group, "__name__", "function"), size=size, crop=crop,
                channels=channels, cache_hit=hit)
    return build(table, split=split, test_per_cell=test_per_cell, seed=seed, max_groups=max_groups,
                 missing_groups=missing_groups, info=info)


def _to_uint8(images) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) images, uint8 or floats in [0, 1] → (N, H, W, C) uint8."""
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W), (N, H, W, C) or (N, C, H, W); got {x.shape}")
    if x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
        x = x.transpose(0, 2, 3, 1)  # channels first → last
    if x.shape[-1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels; got shape {x.shape}")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if not np.issubdtype(x.dtype, np.floating) or x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
        raise ValueError(f"images must be uint8 or floats in [0, 1]; got {x.dtype}"
                         + (f" in [{np.nanmin(x):g}, {np.nanmax(x):g}]" if x.size else ""))
    return np.round(x * 255.0).astype(np.uint8)


def _resized(x: np.ndarray, size: int | None, crop: str, channels: int | None) -> np.ndarray:
    """(N, H, W, C) uint8 → (N, size, size, channels) (unchanged when already so)."""
    from PIL import Image

    channels = channels or x.shape[-1]
    if (size is None or x.shape[1:3] == (size, size)) and x.shape[-1] == channels:
        return x
    if size is None and x.shape[1] != x.shape[2]:
        raise ValueError(f"images must be square or given a size=; got {x.shape[1]}×{x.shape[2]}")
    side = size or x.shape[1]
    return np.stack([read_image(Image.fromarray(im.squeeze(-1) if im.shape[-1] == 1 else im), size=side, crop=crop,
                                channels=channels) for im in x]) if len(x) else np.zeros((0, side, side, channels),
                                                                                         np.uint8)


def from_arrays(images, labels: Sequence, groups: Sequence, *, splits: Sequence | None = None, split: Any = "train",
                split_values: Mapping | None = None, classes: Sequence | None = None, size: int | None = None,
                crop: str = "center", channels: int | None = None, test_per_cell: int | None = None, seed: int = 0,
                max_groups: int = MAX_GROUPS, missing_groups: str = "keep", name: str = "arrays") -> GroupedDataset:
    """Images already in memory: (N, H, W[, C]) or (N, C, H, W), uint8 or floats in [0, 1] (kept at 8 bits).

    ``labels`` and ``groups`` hold N values each (any type; None / NaN in ``groups``: unknown group),
    ``splits`` N split values or None (a balanced test set is drawn), ``classes`` the class values in the
    order their ids should follow (default: natural order; a class given but absent is an error).
    ``size`` None keeps the images' side. Other options: see the module docstring.
    """
    x = _to_uint8(images)
    n = len(x)
    columns = {"labels": labels, "groups": groups, **({"splits": splits} if splits is not None else {})}
    for what, values in columns.items():
        if len(values) != n:
            raise ValueError(f"{what} must hold one value per image ({n}); got {len(values)}")
    _check_image_options(size or 32, crop, channels or 3, seed, max_groups)
    x = _resized(x, size, crop, channels)
    as_obj = lambda v: np.array(list(v.tolist() if hasattr(v, "tolist") else v), dtype=object)  # noqa: E731
    table = Table(images=x, labels=as_obj(labels), groups=as_obj(groups),
                  splits=None if splits is None else as_obj(splits),
                  words={"source": name, "label": "labels", "group": "groups", "split": "splits"})
    info = dict(name=name, size=int(x.shape[1]), channels=int(x.shape[-1]))
    return build(table, split=split, split_values=split_values, test_per_cell=test_per_cell, seed=seed,
                 max_groups=max_groups, classes=classes, missing_groups=missing_groups, info=info)


def _split_sources(ds) -> tuple[list, np.ndarray | None]:
    """Split a dataset, or a mapping {split name: dataset} → (the datasets, their split name per row or None)."""
    if isinstance(ds, Mapping):
        parts = list(ds.values())
        return parts, np.concatenate([np.full(len(p), name, dtype=object) for name, p in ds.items()])
    return [ds], None


def from_torchvision(ds, *, group: Sequence | Callable[[Any, Any], Any], label: Callable[[Any], Any] | None = None,
                     split: Any = "train", size: int = 32, crop: str = "center", channels: int = 3,
                     test_per_cell: int | None = None, seed: int = 0, max_groups: int = MAX_GROUPS,
                     missing_groups: str = "keep") -> GroupedDataset:
    """Load a torchvision-style dataset (``len(ds)``, ``ds[i] → (image, target)``, optional ``ds.classes``).

    ``ds`` may be one dataset (a balanced test set is drawn) or ``{"train": ds_train, "test": ds_test}``
    (its keys are the split values). ``group`` gives the groups: a sequence of one value per sample (in
    the order of the datasets), or ``group(image, target)``. ``label(target)`` picks the class from a
    structured target (CelebA's attribute vector); by default the target is the class, named by
    ``ds.classes`` when the dataset has it. Images may be Pillow images, arrays or tensors (C, H, W) in [0, 1].
    """
    from PIL import Image

    _check_image_options(size, crop, channels, seed, max_groups)
    parts, splits = _split_sources(ds)
    names = getattr(parts[0], "classes", None)
    images, targets, groups = [], [], []
    for part in parts:
        for i in range(len(part)):
            im, target = part[i][:2]
            if not isinstance(im, Image.Image):
                im = Image.fromarray(_to_uint8(np.asarray(im)[None] if not hasattr(im, "detach")
                                               else im.detach().cpu()[None])[0].squeeze())
            images.append(read_image(im, size=size, crop=crop, channels=channels))
            targets.append(label(target) if label is not None else target)
            groups.append(group(im, target) if callable(group) else None)
    if not callable(group):
        if len(group) != len(images):
            raise ValueError(f"group must hold one value per sample ({len(images)}); got {len(group)}")
        groups = list(group)
    if label is None and names is not None:
        targets = [names[int(t)] for t in targets]
    kind = type(parts[0]).__name__
    table = Table(images=np.stack(images), labels=np.array(targets, dtype=object), groups=np.array(groups, dtype=object),
                  splits=splits, words={"source": f"torchvision dataset {kind}", "label": "the targets",
                                        "group": "group", "split": "the mapping's keys"})
    info = dict(name=f"torchvision:{kind}", size=size, crop=crop, channels=channels)
    return build(table, split=split, test_per_cell=test_per_cell, seed=seed, max_groups=max_groups,
                 classes=list(names) if label is None and names is not None else None,
                 missing_groups=missing_groups, info=info)


def from_huggingface(ds, *, image: str = "image", label: str = "label", group: str = "group",
                     split: Any = "train", split_column: str | None = None, size: int = 32, crop: str = "center",
                     channels: int = 3, test_per_cell: int | None = None, seed: int = 0,
                     max_groups: int = MAX_GROUPS, missing_groups: str = "keep") -> GroupedDataset:
    """Load a Hugging Face ``datasets.Dataset`` (or ``DatasetDict``: its keys are the splits), read with that library.

    ``image``, ``label``, ``group`` name its columns; a ``ClassLabel`` column gives its names in its order.
    ``split_column`` names a column of split values in a single ``Dataset`` (None: a balanced test set is
    drawn). Needs the ``huggingface`` extra (``pip install fairdd[huggingface]``).
    """
    try:
        import datasets as hf
    except ImportError as exc:
        raise ImportError("from_huggingface needs the 'datasets' library: pip install 'fairdd[huggingface]'") from exc
    _check_image_options(size, crop, channels, seed, max_groups)
    if not isinstance(ds, (hf.Dataset, hf.DatasetDict)):
        raise TypeError(f"ds must be a datasets.Dataset or DatasetDict; got {type(ds).__name__}")
    parts, splits = _split_sources(ds)
    wanted = {"image": image, "label": label, "group": group, **({"split_column": split_column} if split_column else {})}
    for part in parts:
        missing = {role: col for role, col in wanted.items() if col not in part.column_names}
        if missing:
            raise ValueError(f"the Hugging Face dataset has no column for {missing}; its columns are {part.column_names}")
    decoded = [p.cast_column(image, hf.Image()) if not isinstance(p.features[image], hf.Image) else p for p in parts]
    images = np.stack([read_image(im, size=size, crop=crop, channels=channels) for p in decoded for im in p[image]])
    columns = {}
    for key, col in (("label", label), ("group", group)):
        feature = parts[0].features[col]
        named = isinstance(feature, hf.ClassLabel)
        columns[key] = np.array([(feature.int2str(v) if v >= 0 else None) if named and v is not None else v
                                 for p in parts for v in p[col]], dtype=object)  # ClassLabel -1: no value
        columns[key + "_names"] = list(feature.names) if named else None
    if split_column:
        splits = np.array([v for p in parts for v in p[split_column]], dtype=object)
    table = Table(images=images, labels=columns["label"], groups=columns["group"], splits=splits,
                  words={"source": "the Hugging Face dataset", "label": f"column {label!r}",
                         "group": f"column {group!r}", "split": f"column {split_column!r}" if split_column
                         else "the DatasetDict's keys"})
    info = dict(name="huggingface", image=image, label=label, group=group, size=size, crop=crop, channels=channels)
    return build(table, split=split, test_per_cell=test_per_cell, seed=seed, max_groups=max_groups,
                 classes=columns["label_names"], missing_groups=missing_groups, info=info)
