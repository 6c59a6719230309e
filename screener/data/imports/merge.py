"""Imported rows -> the snapshot file `<into>/<kind>.csv`: merged by key, validated, written
atomically, with the rejects report beside it.

The snapshot file (read with `snapshot.read_text_table`; created with the folder when absent)
keeps every row whose key (`schemas.SPECS[kind][1]`) the import does not give; a row with the same
key is replaced, unless it holds the same values (compared as typed values: `1.50` equals `1.5`),
in which case its text is kept as it was. Rows are sorted by the key (fiscal year numerically).
Columns are the schema's, in its order (extra columns an existing file has are kept after them).
The merged table is checked with `schemas.validate`; any error raises `InputError` and nothing is
written. The file is written with `atomic.write_bytes`, and only when its bytes change: importing
the same file twice leaves it byte for byte identical (`rows_new = rows_changed = 0`). A snapshot
that holds only `<kind>.parquet` is refused (a new CSV would hide it), as is an existing file that
fails its own checks. The rejects report (`report.rejects_csv`) is written atomically on every
import that rejects something and removed on every import that rejects nothing.

Nulls: a None value is written as an empty cell. Ties: `rows` must not give a key twice (the
caller settles duplicates first, see `records.dedupe`). Empty input: no rows leave the snapshot
file untouched (only the rejects report is written or removed). One import at a time per snapshot
folder: the read-merge-write is not locked against a second writer of the same file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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


def _key_columns(kind: str) -> tuple[str, ...]:
    from screener.data.schemas import SPECS

    return SPECS[kind][1]


def _typed_key(kind: str, values: dict) -> tuple:
    out = []
    for k in _key_columns(kind):
        v = (values.get(k) or "").strip()
        if k == "fiscal_year":
            try:
                out.append(int(v))
            except ValueError:
                out.append(0)
        else:
            out.append(v)
    return tuple(out)


def _typed_row(kind: str, values: dict) -> tuple:
    """A row's values compared as types: `1.50` equals `1.5`, `TRUE` equals `true`."""
    from screener.data.schemas import SPECS

    out = []
    for col in SPECS[kind][0]:
        v = values.get(col.name)
        v = v.strip() if isinstance(v, str) else v
        if v in (None, ""):
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


def _csv_bytes(columns: list[str], rows: list[dict], bom: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def merge_into_snapshot(kind: str, rows: list[dict], rejections: list[Rejection], into: Path,
                        display: Callable[[Path], str]) -> Merged:
    """Merge `rows` (snapshot values as text) into `<into>/<kind>.csv` and write the rejects report
    (see the module docstring). Raises `InputError`, writing nothing, when the result would not
    pass its checks."""
    from screener import atomic
    from screener.data import schemas
    from screener.data.snapshot import read_text_table, snapshot_files

    existing_files = snapshot_files(into) if into.is_dir() else {}
    target = into / f"{kind}.csv"
    target_shown = display(target)
    if kind in existing_files and existing_files[kind].suffix.lower() == ".parquet":
        raise InputError([Problem("parquet-snapshot", f"the snapshot holds {display(existing_files[kind])}; "
                                  f"importing would write {kind}.csv, which hides it", display(existing_files[kind]),
                                  hint="convert it to CSV first, or import into another folder")])
    columns = [c.name for c in schemas.SPECS[kind][0]]
    old_rows: list[dict] = []
    old_bytes: bytes | None = None
    bom = False
    if target.is_file():
        old_bytes = target.read_bytes()
        bom = old_bytes.startswith(b"\xef\xbb\xbf")
        old = read_text_table(target, target_shown, old_bytes)
        errors = [p for p in schemas.validate(kind, old, target_shown) if p.severity == "error"]
        if errors:
            raise InputError(errors + [Problem("snapshot-broken", "the snapshot file has errors; nothing imported",
                                               target_shown, hint=f"fix them first (screener data check {display(into)})")])
        columns += [c for c in old.columns if c not in columns]
        old_rows = old.to_dicts()
    old_by_key = {_typed_key(kind, r): r for r in old_rows}
    new = changed = unchanged = 0
    merged: dict[tuple, dict] = dict(old_by_key)
    for values in rows:
        k = _typed_key(kind, values)
        before = old_by_key.get(k)
        if before is None:
            new += 1
            merged[k] = values
        elif _typed_row(kind, before) == _typed_row(kind, values):
            unchanged += 1
        else:
            changed += 1
            merged[k] = {**{c: before.get(c) for c in columns}, **values}
    ordered = [merged[k] for k in sorted(merged)]
    out_bytes = _csv_bytes(columns, ordered, bom)

    import polars as pl

    frame = pl.DataFrame({c: [r.get(c) for r in ordered] for c in columns}, schema={c: pl.String for c in columns})
    errors = [p for p in schemas.validate(kind, frame, target_shown) if p.severity == "error"]
    if errors:
        raise InputError(errors + [Problem("not-written", "the merged snapshot would not pass its checks; "
                                           "nothing was written", target_shown)])

    # an import that brings nothing new leaves the file alone, even one formatted differently
    written = bool(new or changed) and out_bytes != old_bytes
    if written:
        atomic.write_bytes(target, out_bytes)
    rejects_path = into / f"{kind}.rejected.csv"
    if rejections:
        atomic.write_bytes(rejects_path, rejects_csv(rejections))
    elif rejects_path.is_file():
        rejects_path.unlink()
    return Merged(target_shown, new, changed, unchanged, written,
                  display(rejects_path) if rejections else None)
