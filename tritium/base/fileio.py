"""File output: a file Tritium writes is either complete or absent, and never someone else's.

- :func:`atomic_path` and the ``write_*_atomic`` helpers write one file through a temporary
  beside it and a rename.
- Ownership: every folder Tritium writes into keeps a manifest, :data:`MANIFEST_FILE`, of the
  files it wrote there with their SHA-256. :func:`check_overwrite` refuses to replace a file
  that is not in it, or that changed since (the user's own ``chip.toml``, an edited copy),
  unless the user said ``--force``; :func:`record_written` adds files just written.
- :func:`replace_folder` builds a whole folder (a report) in a temporary folder beside the
  target and swaps it in with one rename, so a killed run leaves the old folder or the new
  one; temporaries of earlier killed runs are removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import glob
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from tritium.base.errors import TritiumError, shown_path

__all__ = ["atomic_path", "write_text_atomic", "write_bytes_atomic", "json_text", "MANIFEST_FILE",
           "check_overwrite", "record_written", "is_tritiums", "replace_folder", "check_replaceable"]

MANIFEST_FILE = ".tritium-files.json"
"""The manifest of the files Tritium wrote in a folder: ``{"files": {name: {"sha256": hex}}}``."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is untouched.
    The parent folder is created if needed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates the file 0600; give it the mode a plain open() would (umask applied).
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def json_text(obj: object, indent: int | None = 2) -> str:
    """``obj`` as strict JSON: NaN and infinities (a metric that does not apply, such as
    the TLU ratio of a model without ternary layers) become ``null``, which jq and
    JavaScript accept and Python's default ``NaN`` is not; other objects become strings."""
    return json.dumps(_finite(obj), indent=indent, default=str, allow_nan=False)


def _finite(obj: object) -> object:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", None) == 0:
        return _finite(obj.item())  # numpy scalars
    return obj


_ATOMIC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
"""The name :func:`atomic_path` gives its temporaries (left behind only by a killed process)."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _manifest(folder: Path) -> dict[str, dict]:
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # none, or not one Tritium wrote: nothing here is known to be Tritium's
    return files if isinstance(files, dict) else {}


def is_tritiums(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file Tritium wrote and nobody changed since (its folder's
    manifest lists it with the same SHA-256). Symlinks and folders are never Tritium's files."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    entry = _manifest(path.parent).get(path.name)
    return isinstance(entry, dict) and entry.get("sha256") == _sha256(path)


def check_overwrite(paths: Iterable[str | os.PathLike], *, force: bool = False) -> None:
    """Refuse to replace a file Tritium did not write: raise unless every one of ``paths`` that
    exists is Tritium's own, unchanged (:func:`is_tritiums`), or ``force``.

    Raises:
        TritiumError: naming the first such file and the way out (``--force``).
    """
    if force:
        return
    for path in map(Path, paths):
        if (path.exists() or path.is_symlink()) and not is_tritiums(path):
            raise TritiumError(f"{shown_path(path)}: exists and was not written by Tritium (or was changed "
                               f"since); give another output, or --force to overwrite it")


def record_written(paths: Iterable[str | os.PathLike]) -> None:
    """Add ``paths``, files Tritium has just written, to their folders' manifests."""
    by_folder: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        by_folder.setdefault(path.parent, []).append(path)
    for folder, files in by_folder.items():
        # not locked: two runs writing one folder at once may lose an entry, which only means a
        # later run asks for --force before replacing that file
        entries = _manifest(folder)
        entries.update({p.name: {"sha256": _sha256(p)} for p in files})
        text = json.dumps({"about": "files Tritium wrote here; it replaces only these (unchanged) "
                                    "without --force", "files": dict(sorted(entries.items()))}, indent=1)
        write_text_atomic(folder / MANIFEST_FILE, text + "\n")


def _foreign(folder: Path) -> Iterator[Path]:
    """Entries under ``folder`` that are not Tritium's own files (nor its manifests or leftover
    temporaries); a subfolder counts through its contents."""
    for entry in sorted(folder.iterdir()):
        if entry.name == MANIFEST_FILE or _ATOMIC_TEMP.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from _foreign(entry)
        elif not is_tritiums(entry):
            yield entry


def check_replaceable(target: str | os.PathLike, names: Iterable[str], *, force: bool = False,
                      what: str = "the report") -> None:
    """Refuse a ``target`` folder that :func:`replace_folder` must not replace with a folder
    holding the top-level entries ``names``.

    ``target`` may be missing, empty, or hold only Tritium's own files (unchanged); with
    ``force``, also files Tritium did not write under one of ``names`` (they are replaced).
    Anything else is never thrown away, ``force`` or not.

    Raises:
        TritiumError: ``target`` is not a folder; it is the current folder or holds it; it
            holds an entry the new folder would lose, or (without ``force``) replace.
    """
    target, names = Path(target), set(names)
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise TritiumError(f"{shown_path(target)}: not a folder ({what} is written as a folder)")
    here, whole = Path.cwd().resolve(), target.resolve()
    if here == whole or whole in here.parents:
        raise TritiumError(f"{shown_path(target)}: {what} replaces its whole folder, so it cannot be the current "
                           f"folder or one holding it; give a new folder, such as {shown_path(target / 'report')}")
    for entry in _foreign(target):
        top = entry.relative_to(target).parts[0]
        if top not in names:
            raise TritiumError(f"{shown_path(entry)}: not part of {what}, which replaces its whole folder; "
                               f"give a new or empty folder (or move it away)")
        if not force:
            raise TritiumError(f"{shown_path(entry)}: exists and was not written by Tritium (or was changed "
                               f"since); give a new or empty folder, or --force to overwrite it")


_SWAP_TEMP = ".tritium-new."


@contextlib.contextmanager
def replace_folder(target: str | os.PathLike, *, force: bool = False,
                   what: str = "the report") -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success, swap it in for ``target`` whole.

    Write everything into the yielded folder (and :func:`record_written` what belongs to
    Tritium). When the body returns, the folder is checked against ``target``
    (:func:`check_replaceable` with its top-level names) and put in its place by one rename
    (an atomic exchange with the old folder), and the old folder is removed: a run killed at
    any moment leaves the old folder or the new one, never a mix. When the body raises, the
    temporary is removed and ``target`` is untouched. Temporaries of earlier killed runs
    beside ``target`` are removed first (a running one holds a lock on its own).

    Raises:
        TritiumError: see :func:`check_replaceable`.
    """
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}{_SWAP_TEMP}"
    _remove_stale(parent, prefix)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours while we live: another run's cleanup leaves it alone
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            check_replaceable(target, [e.name for e in tmp.iterdir()], force=force, what=what)
            shutil.rmtree(_swap(tmp, target), ignore_errors=True)  # the old folder
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # the new folder, on failure
    finally:
        os.close(fd)


def _remove_stale(parent: Path, prefix: str) -> None:
    for entry in parent.glob(f"{glob.escape(prefix)}*.tmp"):
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a run in progress
        else:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


_RENAME_EXCHANGE = 2


def _swap(new: Path, target: Path) -> Path:
    """Put folder ``new`` at ``target``; return where the old folder (if any) is now, to be removed."""
    try:
        os.rename(new, target)  # no target, or an empty one: one rename
        return new
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if _exchange(new, target):
        return new
    # no atomic exchange on this file system: two renames; the old folder, set aside under a name no
    # cleanup removes, is deleted only once the new one is in place
    old = new.with_name(new.name + ".old")
    os.rename(target, old)
    os.rename(new, target)
    return old


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))
