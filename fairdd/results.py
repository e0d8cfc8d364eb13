"""`DistillResult`: a synthetic set with its config and history; saved as a folder."""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .display import denormalise
from .io import folder_lock, kill_point, load_tensors, read_json, remove_old_siblings, sha256_file
from .ownership import OutputFolder, check_output, write_owned
from .synthetic import Multiformation
from .validate import check_bool, check_dtype, check_finite, check_path

__all__ = ["DistillResult", "load_result", "check_result_target", "image_grid", "save_png"]

FORMAT = "fairdd.result"
VERSION = 2  # 2: payload files named by checksum in the manifest (1: tensors.pt, no checksum)


@dataclass
class DistillResult:
    """A distilled (or baseline) synthetic set.

    images : (C · ipc, channels, H, W) float, in the training set's normalisation, sorted by class.
    labels : (C · ipc,) long.
    history : per-iteration records ``{"iteration", "loss", "seconds"}``.
    config : the full run config (``DistillConfig.to_dict()``) or a baseline description.
    dataset : the training set's names, normalisation and build knobs.
    """

    images: torch.Tensor
    labels: torch.Tensor
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)

    def training_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the images a network trains on: the stored ones, decoded for multi-formation (IDC)."""
        return Multiformation.of(self.config).decode(self.images, self.labels)

    def display_images(self) -> torch.Tensor:
        """Return the stored images in [0, 1] for display (the training set's normalisation undone)."""
        return denormalise(self.images.detach().cpu(), self.dataset.get("mean", (0.5, 0.5, 0.5)),
                           self.dataset.get("std", (0.5, 0.5, 0.5)))

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.ndim != 4 or not self.images.is_floating_point():
            raise ValueError(f"images must be a float tensor (N, C, H, W); got {_shape(self.images)}")
        check_dtype("images", self.images, (torch.float32,), "the training set's float32 normalisation: "
                    "use images.float()")
        if not isinstance(self.labels, torch.Tensor) or self.labels.shape != (self.images.shape[0],) \
                or self.labels.is_floating_point() or self.labels.dtype == torch.bool:
            raise ValueError(f"labels must be an integer tensor of shape ({self.images.shape[0]},); "
                             f"got {_shape(self.labels)}")
        for name in ("config", "dataset"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict; got {type(getattr(self, name)).__name__}")
        if not isinstance(self.history, list):
            raise ValueError(f"history must be a list of dicts; got {type(self.history).__name__}")

    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write the result folder ``path/``.

        It holds config.json (the manifest, with checksums), tensors-<sha>.pt, history-<sha>.json
        and grid.png.

        ``path`` may be new, empty, or (with ``overwrite=True``) a fairdd result folder; anything
        else is refused with ``FileExistsError`` (fairdd never replaces files it did not write;
        other files inside a result folder are kept). The replacement is atomic: killed at any
        point, the folder holds the old or the new result (see docs/reliability.md).
        """
        path = check_path("path", path)
        check_bool("overwrite", overwrite)
        images, labels = self.images.detach().cpu().contiguous(), self.labels.detach().cpu().contiguous()
        check_result_target(path, overwrite=overwrite)
        check_output(path, kind="folder", what="result folder")
        buffer = io.BytesIO()
        torch.save({"images": images, "labels": labels}, buffer)
        payload = {"tensors": (buffer.getvalue(), "pt"),
                   "history": (json.dumps(self.history, indent=1).encode() + b"\n", "json")}
        with OutputFolder(path, adopt=_legacy_files).locked() as out:
            check_result_target(path, overwrite=overwrite, held=True)  # again: another saver may have just finished
            files = {}
            for key, (data, ext) in payload.items():
                digest = hashlib.sha256(data).hexdigest()
                name = f"{key}-{digest[:16]}.{ext}"
                if not out.owns(name) or sha256_file(path / name) != digest:
                    out.write(name, lambda p, data=data: p.write_bytes(data), what="result file")
                files[key], files[f"{key}_sha256"] = name, digest
            kill_point("save:payload")
            out.write("config.json", lambda p: p.write_text(json.dumps(
                {"format": FORMAT, "version": VERSION, "files": files, "config": self.config,
                 "dataset": self.dataset}, indent=2) + "\n"), what="result manifest")
            kill_point("save:committed")
            out.remove([n for n in out.files if _PAYLOAD.match(n) and n not in (files["tensors"], files["history"])])
            kill_point("save:cleaned")
            try:
                out.write("grid.png", lambda p: _write_png(p, image_grid(self.display_images(), labels)),
                          what="result image")
            except OSError:
                out.remove(["grid.png"])  # the new result is whole; no picture of the old one stays beside it
                raise
        remove_old_siblings(path, _is_ours_or_empty)
        return path


_PAYLOAD = re.compile(r"^(tensors(-[0-9a-f]{16})?\.pt|history(-[0-9a-f]{16})?\.json)$")
def _shape(x) -> str:
    return f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__


def _is_result(folder: Path) -> bool:
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _legacy_files(folder: Path) -> list[str]:
    """A result folder from before manifests: the files its ``config.json`` names (and the grid) are fairdd's."""
    if not _is_result(folder):
        return []
    files = json.loads((folder / "config.json").read_text()).get("files")
    named = [v for k, v in files.items() if k in ("tensors", "history")] if isinstance(files, dict) \
        else ["tensors.pt", "history.json"]
    return ["config.json", "grid.png", *[n for n in named if isinstance(n, str) and _PAYLOAD.match(n)]]


def _is_ours_or_empty(folder: Path) -> bool:
    """A folder left beside a result by the earlier folder-swap saver: removable when nothing in it is a user's."""
    view = OutputFolder(folder, adopt=_legacy_files)
    return not view.foreign()


def check_result_target(path, *, overwrite: bool = False, held: bool = False) -> None:
    """Raise ``FileExistsError`` unless ``path`` may receive a result.

    It may if it is new, holds only files fairdd wrote there (the leftovers of an interrupted first
    save), or (with ``overwrite``) is a fairdd result folder; a user's own files inside a result folder
    are kept (``fairdd.ownership``: fairdd replaces or deletes only the files its manifest lists).
    The folder is read under its lock (``held``: the caller holds it), so a file another saver is
    replacing at that moment is never mistaken for a user's.
    """
    path = Path(path)
    if not held and path.is_dir() and not path.is_symlink():
        with folder_lock(path):
            return check_result_target(path, overwrite=overwrite, held=True)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder; a result is saved as a folder: "
                              "choose another path")
    view = OutputFolder(path, adopt=_legacy_files)
    if _is_result(path) and view.owns("config.json"):
        for name in ("grid.png",):  # the payload names are new checksums; these two are written in place
            view.check(name, what="result image")
        if not overwrite:
            raise FileExistsError(f"{path} already holds a fairdd result; pass overwrite=True "
                                  "(CLI: --overwrite) to replace it")
        return
    foreign = view.foreign()
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise FileExistsError(f"{path} exists and is not a fairdd result (it holds {', '.join(foreign[:5])}{more}, "
                              "which fairdd did not write); fairdd does not replace folders it did not write: "
                              "choose another path")


def load_result(path) -> DistillResult:
    """Read a folder written by ``DistillResult.save``; clear errors for anything else.

    The tensors and history files are checked against the checksums in ``config.json``.
    """
    path = check_path("path", path)
    meta_file = path / "config.json"
    if not meta_file.is_file():
        why = "does not exist" if not path.exists() else "no config.json"
        raise FileNotFoundError(f"{path} is not a fairdd result folder ({why})")
    meta = read_json(meta_file, "fairdd result manifest")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_file} is not a fairdd result (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("version")
    if version not in (1, VERSION):
        raise ValueError(f"{path}: result version {version!r} is not supported (expected 1 or {VERSION})")
    for key in ("config", "dataset"):
        if not isinstance(meta.get(key, {}), dict):
            raise ValueError(f"{meta_file}: {key!r} must be a JSON object; got {type(meta[key]).__name__}")
    if version == 1:  # before checksums: fixed names, nothing to verify
        tensor_file, history_file, sums = path / "tensors.pt", path / "history.json", {}
    else:
        files = meta.get("files")
        names = {k: files.get(k) if isinstance(files, dict) else None for k in ("tensors", "history")}
        if any(not isinstance(n, str) or not _PAYLOAD.match(n) for n in names.values()):
            raise ValueError(f"{meta_file}: 'files' must name the tensors and history files; got {files!r}")
        tensor_file, history_file = path / names["tensors"], path / names["history"]
        sums = {tensor_file: files.get("tensors_sha256"), history_file: files.get("history_sha256")}
    for file, digest in sums.items():
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing (named in {meta_file})")
        if sha256_file(file) != digest:
            raise ValueError(f"{file} does not match its checksum in {meta_file}: the file was changed or damaged")
    tensors = load_tensors(tensor_file, "fairdd result tensors")
    images, labels = tensors.get("images"), tensors.get("labels")
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor) or images.ndim != 4 \
            or labels.shape != (images.shape[0],) or not images.is_floating_point() or labels.is_floating_point():
        raise ValueError(f"{tensor_file} does not hold float images (N, C, H, W) and integer labels (N,)")
    dataset = meta.get("dataset", {})
    n_classes = len(dataset.get("class_names") or []) or None
    if images.shape[0] == 0:
        raise ValueError(f"{tensor_file} holds no images")
    if int(labels.min()) < 0 or (n_classes and int(labels.max()) >= n_classes):
        raise ValueError(f"{tensor_file}: labels must lie in [0, {n_classes or 'n_classes'}); "
                         f"got range [{int(labels.min())}, {int(labels.max())}]")
    check_finite(f"{tensor_file} images", images)
    config = meta.get("config", {})
    factor = config.get("factor", 1)
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int) or factor < 1):
        raise ValueError(f"{meta_file}: config factor must be an integer >= 1; got {factor!r}")
    history = read_json(history_file, "fairdd result history") if history_file.is_file() or version > 1 else []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ValueError(f"{history_file} must hold a list of records; got {type(history).__name__}")
    return DistillResult(images=images, labels=labels.long(), history=history, config=config, dataset=dataset)


def image_grid(images: torch.Tensor, labels: torch.Tensor, *, pad: int = 1) -> torch.Tensor:
    """Tile images in [0, 1] (N, C, H, W) into one (C, H', W') image: one row per class."""
    n, c, h, w = images.shape
    classes = labels.unique().tolist()
    per_row = max(int((labels == k).sum()) for k in classes) if n else 1
    grid = torch.ones(c, len(classes) * (h + pad) + pad, per_row * (w + pad) + pad)
    for r, k in enumerate(classes):  # display only
        for j, img in enumerate(images[labels == k]):
            y, x = pad + r * (h + pad), pad + j * (w + pad)
            grid[:, y:y + h, x:x + w] = img
    return grid


def save_png(path, image: torch.Tensor, *, scale: int = 0) -> Path:
    """Write a (C, H, W) [0, 1] image as PNG (nearest-neighbour upscaled to ≥ 256 px wide).

    A file at ``path`` that fairdd did not write is never replaced (``fairdd.ownership``).
    """
    img = _png_image(image, scale=scale)
    return write_owned(path, lambda p: _save_image(img, p), what="image")


def _png_image(image: torch.Tensor, *, scale: int = 0):
    from PIL import Image

    arr = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    img = Image.fromarray(arr)
    scale = scale or max(1, math.ceil(256 / img.width))
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def _write_png(path: Path, image: torch.Tensor) -> None:
    """Write a (C, H, W) [0, 1] image as PNG to ``path`` directly (the caller makes the write atomic)."""
    _save_image(_png_image(image), path)


def _save_image(img, path: Path) -> None:
    with open(path, "wb") as f:
        img.save(f, format="PNG")
