"""Safe file writes.

* ``atomic_write``: write a temporary sibling, then rename it over the target (readers see the old
  or the new file, never half of one).
* ``folder_lock``: savers of one folder take turns (an exclusive lock on the folder).

Which files a writer may replace or delete is decided by ``fairdd.ownership`` (a manifest per folder).
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

__all__ = ["atomic_write", "write_json", "save_tensors", "load_tensors", "sha256_file", "folder_lock",
           "kill_point", "read_json"]

TEMP_PREFIX = ".fairdd-tmp-"  # + "<pid>-<name>.": a temporary is recognisably fairdd's and its process's
KILL_ENV = "FAIRDD_TEST_KILL_AT"  # tests: SIGKILL this process at the named point (see ``kill_point``)


def kill_point(name: str) -> None:
    """Test hook: die here (SIGKILL, no cleanup) when ``name`` matches the glob ``$FAIRDD_TEST_KILL_AT``."""
    pattern = os.environ.get(KILL_ENV)
    if pattern and fnmatch.fnmatchcase(name, pattern):  # pragma: no cover - runs in the killed subprocess
        os.kill(os.getpid(), signal.SIGKILL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # read once at import: os.umask can only be read by setting it


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` to ``path`` (same folder, so atomic).

    Errors name ``path`` (the user's path), not the temporary file.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{path.name}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise _named(exc, path) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a saved file gets the mode any new file would
        kill_point(f"write:{path.name}")
        os.replace(tmp, path)
    except OSError as exc:
        raise _named(exc, path) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _named(exc: OSError, path: Path) -> OSError:
    """The same kind of error, with a message naming the user's ``path``."""
    reason = exc.strerror or str(exc)
    cls = type(exc) if type(exc) in (FileExistsError, FileNotFoundError, PermissionError, IsADirectoryError,
                                     NotADirectoryError) else OSError
    return cls(f"cannot write {path}: {reason}")


def write_json(path, obj) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n"))


def read_json(path, what: str):
    """``json.loads`` of a file with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is corrupted ({what}: {exc})") from exc


def tensor_bytes(tensors: dict) -> bytes:
    """``torch.save`` into memory: the file write is then a plain one, whose failure (disk full, file too
    large) is an ``OSError`` naming the file, not a ``RuntimeError`` from torch's archive writer."""
    import io

    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


def save_tensors(path, tensors: dict) -> Path:
    data = tensor_bytes(tensors)
    return atomic_write(path, lambda p: p.write_bytes(data))


def load_tensors(path, what: str) -> dict:
    """``torch.load(weights_only=True)`` with a clear error for missing, corrupted or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        reason = (str(exc).strip().splitlines() or [""])[0][:160]  # torch's messages run to many lines
        raise ValueError(f"{path} is not a readable {what} ({type(exc).__name__}: {reason})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a {what}: expected a dict of tensors, got {type(data).__name__}")
    return data


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


LOCK_TIMEOUT = 300.0  # seconds a saver waits for another saver of the same folder (saves take seconds)


@contextlib.contextmanager
def folder_lock(folder: Path, *, timeout: float | None = None) -> Iterator[None]:
    """An exclusive lock on ``folder`` (flock on the folder itself: nothing is left behind).

    Released when the process dies, so a killed saver never wedges the next one; a live holder that
    keeps it past ``timeout`` seconds (default ``LOCK_TIMEOUT``) gives ``TimeoutError`` naming the folder.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: a lock file beside the folder
        from filelock import FileLock

        with FileLock(str(folder) + ".lock", timeout=LOCK_TIMEOUT if timeout is None else timeout):
            yield
        return
    limit = LOCK_TIMEOUT if timeout is None else timeout
    fd = os.open(folder, os.O_RDONLY)
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > limit:
                    raise TimeoutError(f"{folder} is locked by another fairdd process that has been writing it "
                                       f"for more than {limit:g} s; try again when it ends") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_old_siblings(target: Path, is_ours: Callable[[Path], bool]) -> None:
    """Remove ``.<name>.old-<pid>`` / ``.<name>.<random>`` folders left beside ``target`` by the earlier
    folder-swap saver (killed mid-swap), when they hold one of our results or nothing."""
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if entry.name.startswith(prefix) and entry.is_dir() and not entry.is_symlink() and is_ours(entry):
                shutil.rmtree(entry, ignore_errors=True)
