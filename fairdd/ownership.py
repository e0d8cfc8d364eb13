"""Which files fairdd may replace or delete: the ones its manifest lists, never one chosen by its name.

Every folder fairdd writes output into (a result folder, ``demo --out``, ``reproduce --out``, the folder
of a checkpoint, a report or a figure) holds a manifest, ``.fairdd-manifest.json``: the files fairdd
wrote there, each with its size and SHA-256. The rule, for every writer:

* a file is **fairdd's** when the manifest lists it and its content still matches the recorded size
  and checksum (a file the user edited afterwards is the user's again), or when the manifest lists it
  as *pending* (a write that was under way when its process died);
* fairdd replaces or deletes only its own files, and replaces one only with the same kind of output
  (a report never replaces a result's ``config.json`` or a checkpoint). A file of the same name that is
  not fairdd's is never replaced: the write is refused with ``FileExistsError`` naming it, ``overwrite``
  or not; other files in the folder are left alone;
* temporary files are ``.fairdd-tmp-<pid>-<name>.<random>.tmp`` (made by ``fairdd.io.atomic_write``);
  only those whose process is gone are cleaned up. A user's ``.something.tmp`` is not fairdd's;
* the manifest is read, changed and replaced (atomically) under an exclusive lock on the folder.

A folder written by an older fairdd has no manifest; a writer may *adopt* the files that its own
record names (a result folder's ``config.json`` names its payload files).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .io import TEMP_PREFIX, _named, atomic_write, folder_lock, sha256_file

__all__ = ["MANIFEST", "OutputFolder", "write_owned", "check_owned", "check_output", "run_lock", "is_fairdd_temp"]

MANIFEST = ".fairdd-manifest.json"
FORMAT = "fairdd.manifest"
LOCK_PREFIX = ".fairdd-lock-"
_TEMP = re.compile(rf"^{re.escape(TEMP_PREFIX)}(\d+)-.*\.tmp$")


def is_fairdd_temp(name: str) -> bool:
    """Whether ``name`` is a temporary file name that ``atomic_write`` makes."""
    return bool(_TEMP.match(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class OutputFolder:
    """The manifest of one output folder, and the only way fairdd writes or removes files there.

    ``adopt(folder)`` names the files a folder without a manifest holds from an older fairdd.
    Read-only use (``owns``, ``foreign``, ``check``) needs no lock; ``locked()`` gives a writer.
    """

    def __init__(self, folder: str | os.PathLike, *, adopt: Callable[[Path], Iterable[str]] | None = None):
        self.folder = Path(folder)
        self.adopt = adopt
        self.files: dict[str, dict] = {}
        self.reload()

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST

    def reload(self) -> None:
        """Read the manifest (a missing or unreadable one lists nothing, so nothing is fairdd's)."""
        self.files = {}
        try:
            meta = json.loads(self.manifest.read_text())
        except FileNotFoundError:
            if self.adopt is not None and self.folder.is_dir():
                self.files = {name: {"adopted": True} for name in self.adopt(self.folder)}
            return
        except (OSError, ValueError):
            return
        files = meta.get("files") if isinstance(meta, dict) and meta.get("format") == FORMAT else None
        if isinstance(files, dict):
            self.files = {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, dict)}

    def owns(self, name: str) -> bool:
        """Whether ``name`` (in this folder) is a file fairdd wrote and nobody changed since."""
        entry, path = self.files.get(name), self.folder / name
        if entry is None or not path.is_file() or path.is_symlink():
            return False
        if entry.get("pending") or entry.get("adopted"):
            return True
        try:
            return path.stat().st_size == entry.get("size") and sha256_file(path) == entry.get("sha256")
        except OSError:
            return False

    def foreign(self) -> list[str]:
        """Entries of the folder that are not fairdd's (sorted): what fairdd must leave alone."""
        if not self.folder.is_dir():
            return []
        return sorted(e.name for e in self.folder.iterdir()
                      if not (e.name == MANIFEST or e.name.startswith(LOCK_PREFIX) or is_fairdd_temp(e.name)
                              or self.owns(e.name)))

    def check(self, name: str, *, overwrite: bool = True, what: str = "file") -> None:
        """Raise ``FileExistsError`` unless fairdd may write ``name`` here (see the module docstring)."""
        path = self.folder / name
        if not path.exists() and not path.is_symlink():
            return
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(f"{what} {path} is a folder; expected a file path")
        if not self.owns(name):
            raise FileExistsError(
                f"{what} {path} exists and fairdd did not write it (it is not listed in {self.manifest}, or was "
                "changed since): fairdd never replaces a file it did not write; move it away or choose another path")
        kind = self.files[name].get("what")
        if kind and kind != what:
            raise FileExistsError(f"{what} {path} would replace a fairdd {kind}: fairdd replaces its own files only "
                                  "with the same kind of output; choose another path")
        if not overwrite:
            raise FileExistsError(f"{what} {path} holds fairdd output from an earlier run; pass overwrite=True "
                                  "(CLI: --overwrite) to replace it")

    @contextlib.contextmanager
    def locked(self) -> Iterator["OutputFolder"]:
        """Create the folder, lock it, re-read the manifest; inside, ``write`` and ``remove`` may be used."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write {self.folder}: {exc.strerror or exc}") from exc
        with folder_lock(self.folder):
            self.reload()
            self._clean_temps()
            yield self

    def write(self, name: str, write: Callable[[Path], None], *, overwrite: bool = True, what: str = "file") -> Path:
        """``atomic_write`` of ``name`` after ``check``; the manifest records it (pending first, then its
        checksum), so a process killed between the two still owns what it wrote. Only inside ``locked()``."""
        self.check(name, overwrite=overwrite, what=what)
        if name not in self.files or "sha256" not in self.files[name]:
            self.files[name] = {"pending": True}
            self._save()
        try:
            path = atomic_write(self.folder / name, write)
        except BaseException:
            self._forget_unwritten(name)
            raise
        self.files[name] = {"size": path.stat().st_size, "sha256": sha256_file(path), "what": what}
        self._save()
        return path

    def _forget_unwritten(self, name: str) -> None:
        """After a failed write: a *pending* entry with no file must not make a later file of yours ours."""
        if self.files.get(name, {}).get("pending") and not (self.folder / name).exists():
            self.files.pop(name)
            with contextlib.suppress(OSError):  # the disk may still be full: then the entry stays, harmless
                self._save()                     # until a file of that name appears (see ``owns``)

    def claim(self, name: str) -> None:
        """Record ``name`` as fairdd's as it is now: only for a file just read and checked as fairdd output
        (a checkpoint written before manifests, resumed and then written again). Only inside ``locked()``."""
        path = self.folder / name
        self.files[name] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
        self._save()

    def remove(self, names: Iterable[str]) -> None:
        """Delete those of ``names`` that are fairdd's; others stay (and so do their manifest entries)."""
        gone = [n for n in names if self.owns(n)]
        for name in gone:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()
        dropped = gone + [n for n in names if n in self.files and not (self.folder / n).exists()]
        if dropped:
            for name in dropped:
                self.files.pop(name, None)
            self._save()

    def _save(self) -> None:
        for name, entry in list(self.files.items()):  # adopted files get their checksum on the first save
            if entry.get("adopted"):
                path = self.folder / name
                self.files[name] = {"size": path.stat().st_size, "sha256": sha256_file(path)} if path.is_file() \
                    else None
        self.files = {k: v for k, v in self.files.items() if v is not None}
        record = {"format": FORMAT, "version": 1, "files": dict(sorted(self.files.items()))}
        atomic_write(self.manifest, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))

    def _clean_temps(self) -> None:
        """Remove ``atomic_write`` temporaries of processes that are gone (killed mid-write)."""
        with contextlib.suppress(OSError):
            for entry in self.folder.iterdir():
                m = _TEMP.match(entry.name)
                if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))) and entry.is_file():
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()


def check_owned(path: str | os.PathLike, *, what: str = "file") -> None:
    """Before any work: raise ``FileExistsError`` if ``path`` exists and is not a file fairdd wrote."""
    path = Path(path)
    OutputFolder(path.parent).check(path.name, what=what)


def check_output(path, *, kind: str, what: str) -> Path:
    """Check (before any work) that ``path`` can be written as a ``kind`` ("file" or "folder").

    Creates missing parent folders; probes that the folder accepts new files; a file that exists must
    be one fairdd wrote (``fairdd.ownership``). Raises ``FileExistsError`` / ``NotADirectoryError`` /
    ``PermissionError`` / ``OSError`` naming ``path``.
    """
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give a file path")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise FileExistsError(f"{what} {path} exists and is a file, not a folder")
    folder = path if kind == "folder" else path.parent
    for parent in [folder, *folder.parents]:  # a plain file on the way makes every mkdir fail
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"cannot write {what} {path}: {parent} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".fairdd-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _named(exc, path) from exc
    if kind == "file":
        check_owned(path, what=what)
    return path


def write_owned(path: str | os.PathLike, write: Callable[[Path], None], *, what: str = "file") -> Path:
    """Write one file as ``OutputFolder.write`` does: a file fairdd did not write is never replaced."""
    path = Path(path)
    with OutputFolder(path.parent).locked() as out:
        return out.write(path.name, write, what=what)


@contextlib.contextmanager
def run_lock(path: str | os.PathLike, *, what: str) -> Iterator[None]:
    """Hold ``path`` for this run: a second run given the same path is refused, naming the first.

    The lock is an ``flock`` on ``.fairdd-lock-<name>`` beside ``path`` (released when the process dies,
    so a killed run never blocks the next); the file records who holds it.
    """
    import fcntl

    path = Path(path)
    lock = path.parent / f"{LOCK_PREFIX}{path.name}"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {what} {path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            raise FileExistsError(f"{what} {path} is in use by another run ({holder}); give this run another "
                                  "path, or wait for that run to end") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
