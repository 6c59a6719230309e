"""Atomic file writes: readers see the old file or the new one, never half of one.

Write to a temporary file in the same folder, flush and fsync it, give it normal permissions,
`os.replace` it over the target, then fsync the folder so the rename itself survives a crash.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path next to `target`; on success it replaces `target` atomically.

    On any exception the temporary file is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not e.filename:  # "File too large" alone would not say which
            e.filename = str(target)
        raise


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def link_or_write(target: Path, source: Path, data: bytes) -> None:
    """Put `data` at `target` atomically, as a hard link to `source` (a file already written and
    fsynced that holds exactly `data`) when the file system allows: no second copy of a large
    export is written. Otherwise (no hard links there, `source` gone) `write_bytes`."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.link.tmp")
    try:
        if os.path.getsize(source) != len(data):
            raise OSError("source differs")
        os.link(source, tmp)
    except OSError:
        write_bytes(target, data)
        return
    try:
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
