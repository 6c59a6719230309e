"""One snapshot store for every writer of a snapshot folder (`data import`, `data refresh`, ...).

`SnapshotStore(folder)` is a context manager holding `<folder>/.snapshot.lock` (filelock,
`fallback_to_soft=False`) for the whole read-merge-write, so two writers of one folder, in any
processes, run one after the other and neither loses the other's rows. Inside it:

* `read(kind)` -> the current table of `kind` as text (CSV or Parquet, whichever the folder holds;
  None when it holds neither);
* `merge(kind, rows)` -> `MergeReport`: the rows of the current table whose key
  (`schemas.SPECS[kind][1]`) `rows` does not give are kept; a row with the same key is replaced,
  unless it holds the same values compared as typed values (`1.50` equals `1.5`), in which case
  its text is kept. Keys are compared typed by the kind's schema (an int column as a number,
  a number column as a decimal, the rest as text), and the rows are written in one order: sorted
  by that typed key. The header is the existing file's (schema columns the new rows fill are
  added after it), or the schema's for a new file. An existing Parquet file is written back as
  Parquet, an existing CSV as CSV (keeping a byte-order mark), a new file is CSV. The merged
  table is checked with `schemas.validate`: its errors are in `MergeReport.problems` and `write`
  refuses such a report. Nothing is written by `merge`;
* `write(*reports)` writes each changed file atomically (`atomic.write_bytes`); several changed
  files are written as one (`_write_together`: pending files, a journal as the commit point,
  the renames), so a writer killed at any moment leaves, once the next holder of the lock has
  run `recover`, all the old files or all the new ones.

Readers: `reading(folder)` holds the same lock while `snapshot.load_snapshot` stamps and reads the
files, so a reader sees all of a multi-file write (several kinds in one lock hold) or none of it.
A folder where the lock file cannot be created (read-only) is read without the lock: nothing can
write there either. Writers on a read-only or uncreatable folder fail with `InputError` (exit 2)
naming the folder; a lock still held after `timeout` seconds raises `SnapshotLocked` (an
`InputError`) naming the lock file.
"""

from __future__ import annotations

import csv
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable

from screener.problems import InputError, Problem

__all__ = ["LOCK_NAME", "MergeReport", "SnapshotLocked", "SnapshotStore", "reading"]

LOCK_NAME = ".snapshot.lock"


class SnapshotLocked(InputError):
    """Another writer still held the snapshot lock after the timeout."""


@dataclass(frozen=True)
class MergeReport:
    kind: str
    path: Path                 # the file written (or that would be)
    shown: str                 # its path as shown to the user
    rows_new: int
    rows_changed: int
    rows_unchanged: int
    data: bytes                # the merged file's bytes
    old: bytes | None          # the existing file's bytes, None for a new file
    problems: tuple[Problem, ...] = field(default=())  # schema errors of the merged table

    @property
    def changed(self) -> bool:
        """Whether writing changes the file: something new or changed, and other bytes (an import
        that brings nothing new leaves a differently formatted file alone)."""
        return bool(self.rows_new or self.rows_changed) and self.data != self.old


def _lock(folder: Path):
    from filelock import FileLock

    return FileLock(str(folder / LOCK_NAME), fallback_to_soft=False)


def _read_only(folder: Path, shown: str, err: OSError) -> InputError:
    return InputError([Problem("not-writable", f"cannot write to the snapshot folder {shown}: "
                               f"{err.strerror or type(err).__name__}", shown,
                               hint="import or refresh into a folder you can write to (--into)")])


class SnapshotStore:
    def __init__(self, folder: Path, display: Callable[[Path], str] = str, timeout: float = 120.0):
        self.folder = Path(folder)
        self.display = display
        self.timeout = timeout
        self._held = None

    # -- the lock -------------------------------------------------------------------------------

    def __enter__(self) -> "SnapshotStore":
        from filelock import Timeout

        shown = self.display(self.folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _read_only(self.folder, shown, e) from None
        lock = _lock(self.folder)
        try:
            lock.acquire(timeout=self.timeout)
        except Timeout:
            lockfile = self.display(self.folder / LOCK_NAME)
            raise SnapshotLocked([Problem("snapshot-locked", f"another writer of {shown} still holds {lockfile} "
                                          f"after {self.timeout:g} s; nothing written", lockfile,
                                          hint="wait for the other import or refresh to finish, then run again")]
                                 ) from None
        except OSError as e:
            raise _read_only(self.folder, shown, e) from None
        if not os.access(self.folder, os.W_OK):
            lock.release()
            raise _read_only(self.folder, shown, PermissionError(13, "Permission denied"))
        self._held = lock
        try:
            recover(self.folder)  # a writer killed mid-write: all old or all new before we read
        except BaseException:
            lock.release()
            self._held = None
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    # -- reading and merging --------------------------------------------------------------------

    def path(self, kind: str) -> Path:
        """The file of `kind`: the existing CSV, else the existing Parquet, else a new CSV."""
        csv_path, parquet = self.folder / f"{kind}.csv", self.folder / f"{kind}.parquet"
        return parquet if not csv_path.is_file() and parquet.is_file() else csv_path

    def read(self, kind: str):
        """The current table of `kind` as text (None when the folder has none); raises
        `InputError` for an unreadable file or one without the key columns."""
        import polars as pl  # noqa: F401

        from screener.data.schemas import SPECS
        from screener.data.snapshot import read_text_table

        path = self.path(kind)
        if not path.is_file():
            return None
        shown = self.display(path)
        frame = read_text_table(path, shown)
        lost = [k for k in SPECS[kind][1] if k not in frame.columns]
        if lost:
            raise InputError([Problem("missing-column", f"it has no column {', '.join(lost)}", shown)])
        return frame

    def merge(self, kind: str, rows) -> MergeReport:
        """Merge `rows` (dicts of snapshot values as text, or a frame of them; no key twice) into
        the current table of `kind` (see the module docstring). Writes nothing."""
        import polars as pl

        from screener.data import schemas
        from screener.data.snapshot import read_text_table

        if isinstance(rows, pl.DataFrame):
            rows = rows.to_dicts()
        rows = list(rows)
        spec_columns = schemas.SPECS[kind][0]
        spec_names = [c.name for c in spec_columns]
        path = self.path(kind)
        shown = self.display(path)
        old_bytes = path.read_bytes() if path.is_file() else None
        if old_bytes is not None:
            old = read_text_table(path, shown, old_bytes)
            lost = [k for k in schemas.SPECS[kind][1] if k not in old.columns]
            if lost:
                raise InputError([Problem("missing-column", f"it has no column {', '.join(lost)}", shown)])
            header = list(old.columns)
            header += [c for c in spec_names if c not in header and any(r.get(c) is not None for r in rows)]
            old_rows = old.to_dicts()
        else:
            header, old_rows = list(spec_names), []
        merged = {typed_key(kind, r): r for r in old_rows}
        new = changed = unchanged = 0
        for values in rows:
            k = typed_key(kind, values)
            before = merged.get(k)
            if before is None:
                new += 1
                merged[k] = values
            elif _typed_row(kind, before) == _typed_row(kind, values):
                unchanged += 1
            else:
                changed += 1
                merged[k] = {**before, **values}
        ordered = [merged[k] for k in sorted(merged)]
        frame = pl.DataFrame([[_text(r.get(c)) for c in header] for r in ordered],
                             schema={c: pl.String for c in header}, orient="row")
        problems = tuple(p for p in schemas.validate(kind, frame, shown) if p.severity == "error")
        if path.suffix.lower() == ".parquet":
            buf = io.BytesIO()
            frame.write_parquet(buf)
            data = buf.getvalue()
        else:
            data = _csv_bytes(header, frame.rows(), bom=bool(old_bytes and old_bytes.startswith(b"\xef\xbb\xbf")))
        return MergeReport(kind, path, shown, new, changed, unchanged, data, old_bytes, problems)

    def write(self, *reports: MergeReport) -> list[MergeReport]:
        """Write every changed file atomically, under the lock this store holds; returns those
        written. Refuses (writing nothing) when any report has problems."""
        from screener import atomic

        if self._held is None:
            raise RuntimeError("SnapshotStore.write outside `with SnapshotStore(...)`")
        bad = [p for r in reports for p in r.problems]
        if bad:
            raise InputError(bad)
        done = [r for r in reports if r.changed]
        if len(done) == 1:
            atomic.write_bytes(done[0].path, done[0].data)
        elif done:
            _write_together([(r.path, r.data) for r in done])
        return done

    def write_file(self, path: Path, data: bytes | None) -> None:
        """Write (or, for None, remove) a side file such as a rejects report, atomically."""
        from screener import atomic

        if data is None:
            Path(path).unlink(missing_ok=True)
        else:
            atomic.write_bytes(Path(path), data)


# -- several files as one write ------------------------------------------------------------------

JOURNAL_NAME = ".snapshot.journal"
_PENDING = ".pending"


def _write_together(files: list[tuple[Path, bytes]]) -> None:
    """Write several files of one folder so that, after a kill at any moment, the folder holds
    all of the old files or all of the new ones once `recover` has run (every holder of the lock
    runs it first). Each new file is written and fsynced beside its target; then the journal
    naming them is written atomically (the commit point); then each is renamed over its target;
    then the journal goes. Killed before the journal: `recover` removes the pending files (all
    old). Killed after it: `recover` finishes the renames (all new)."""
    import json

    from screener import atomic

    folder = files[0][0].parent
    pairs = []
    try:
        for target, data in files:
            pending = target.with_name(f".{target.name}.{os.getpid()}{_PENDING}")
            with open(pending, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(pending, 0o666 & ~umask)
            pairs.append((pending.name, target.name))
    except BaseException:
        for name, _ in pairs:
            (folder / name).unlink(missing_ok=True)
        raise
    atomic.write_bytes(folder / JOURNAL_NAME, json.dumps(pairs).encode())
    recover(folder)


def recover(folder: Path) -> None:
    """With the snapshot lock held: finish a multi-file write the journal names (rename each
    pending file still there over its target, then drop the journal); then remove what killed
    writers left before their commit point (pending files, atomic writes' temporary files)."""
    import json

    from screener import atomic

    folder = Path(folder)
    journal = folder / JOURNAL_NAME
    if journal.is_file():
        try:
            pairs = json.loads(journal.read_text(encoding="utf-8"))
        except ValueError:  # cannot be: the journal is written atomically; a stranger's file
            pairs = []
        for pending, target in pairs:
            if "/" in pending or "/" in target or not pending.endswith(_PENDING):
                continue  # names only, inside this folder
            if (folder / pending).is_file():
                os.replace(folder / pending, folder / target)
        atomic._fsync_dir(folder)
        journal.unlink()
        atomic._fsync_dir(folder)
    # pending files of a write killed before its journal, and temporary files of atomic writes
    # (`atomic.atomic_path`: `.<name>.<random>.tmp`) killed before their rename
    for stray in [*folder.glob(f".*{_PENDING}"), *folder.glob(".*.tmp")]:
        if stray.is_file():
            stray.unlink(missing_ok=True)


@contextmanager
def reading(folder: Path, timeout: float = 120.0):
    """Hold the snapshot lock while reading a folder that has one (see the module docstring)."""
    from filelock import Timeout

    folder = Path(folder)
    lock = None
    if (folder / LOCK_NAME).exists():
        lock = _lock(folder)
        try:
            lock.acquire(timeout=timeout)
        except (OSError, Timeout):
            lock = None  # read-only folder (nobody writes there), or a writer stuck: per-file atomicity
    if lock is not None:
        try:
            recover(folder)  # a writer was killed mid-write: finish or undo its write first
        except OSError:
            pass
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


# -- typed keys and rows --------------------------------------------------------------------------


def _text(v):
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def _typed(col_type: str, v):
    v = _text(v)
    if v is None:
        return (0, "")
    if col_type in ("int", "number"):
        try:
            return (1, Decimal(v))
        except InvalidOperation:
            return (2, v)
    return (2, v)


def typed_key(kind: str, values: dict) -> tuple:
    """A row's key typed by the kind's schema: sortable, nulls first, `2026` equals `2026.0`."""
    from screener.data.schemas import SPECS

    types = {c.name: c.type for c in SPECS[kind][0]}
    return tuple(_typed(types.get(k, "string"), values.get(k)) for k in SPECS[kind][1])


def _typed_row(kind: str, values: dict) -> tuple:
    """A row's values compared as types: `1.50` equals `1.5`, `TRUE` equals `true`."""
    from screener.data.schemas import SPECS

    out = []
    for col in SPECS[kind][0]:
        v = _text(values.get(col.name))
        if v is None:
            out.append(None)
        elif col.type in ("number", "int"):
            try:
                out.append(Decimal(v))
            except InvalidOperation:
                out.append(v)
        elif col.type == "bool":
            out.append(v.lower() in ("true", "1", "yes"))
        else:
            out.append(v)
    return tuple(out)


def _csv_bytes(columns: list[str], rows: Iterable[tuple], bom: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")
