"""Imported rows -> the snapshot file of their kind, through the one snapshot store
(`screener.data.store`): merged by typed key, validated, written atomically under
`<into>/.snapshot.lock`, with the rejects report beside it.

The store's merge (see `store`) keeps every row whose key the import does not give; a row with the
same key is replaced, unless it holds the same values (compared as typed values: `1.50` equals
`1.5`), in which case its text is kept. Rows are sorted by the typed key. A folder holding
`<kind>.parquet` (and no CSV) gets the rows merged into the Parquet file, as `data refresh` does.
An existing file that fails its own checks is refused, and so is a merged table that would not
pass them: `InputError`, nothing written. The file is written only when its bytes change:
importing the same file twice leaves it byte for byte identical (`rows_new = rows_changed = 0`).
The rejects report (`report.rejects_csv`) is written atomically on every import that rejects
something and removed on every import that rejects nothing, under the same lock.

Nulls: a None value is written as an empty cell. Ties: `rows` must not give a key twice (the
caller settles duplicates first, see `records.dedupe`). Empty input: no rows leave the snapshot
file untouched (only the rejects report is written or removed). Concurrent imports and refreshes
of one folder wait for each other (up to `lock_timeout` seconds) and lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from screener.data.imports.report import Rejection, rejects_csv
from screener.problems import InputError, Problem

__all__ = ["Merged", "merge_into_snapshot"]


@dataclass(frozen=True)
class Merged:
    """What a merge did to the snapshot file (paths as shown to the user)."""

    target: str
    rows_new: int
    rows_changed: int
    rows_unchanged: int
    written: bool  # whether the snapshot file's bytes changed
    rejected_report: str | None  # the rejects CSV written, or None


def merge_into_snapshot(kind: str, rows: list[dict], rejections: list[Rejection], into: Path,
                        display: Callable[[Path], str], lock_timeout: float = 120.0) -> Merged:
    """Merge `rows` (snapshot values as text) into the snapshot file of `kind` in `into` and write
    the rejects report (see the module docstring). Raises `InputError`, writing nothing, when the
    result would not pass its checks."""
    from screener.data import schemas
    from screener.data.store import SnapshotStore

    with SnapshotStore(into, display, lock_timeout) as store:
        target = store.path(kind)
        target_shown = display(target)
        old = store.read(kind)
        if old is not None:
            errors = [p for p in schemas.validate(kind, old, target_shown) if p.severity == "error"]
            if errors:
                raise InputError(errors + [Problem("snapshot-broken", "the snapshot file has errors; nothing imported",
                                                   target_shown, hint=f"fix them first (screener data check {display(into)})")])
        report = store.merge(kind, rows)
        if report.problems:
            raise InputError(list(report.problems) + [Problem("not-written", "the merged snapshot would not pass its "
                                                              "checks; nothing was written", target_shown)])
        written = bool(store.write(report))
        rejects_path = into / f"{kind}.rejected.csv"
        store.write_file(rejects_path, rejects_csv(rejections) if rejections else None)
    return Merged(target_shown, report.rows_new, report.rows_changed, report.rows_unchanged, written,
                  display(rejects_path) if rejections else None)
