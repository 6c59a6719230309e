"""`import_file`: one vendor export through every step, in order, to the snapshot folder.

1. check the source, kind and path, and (for `generic`) the config's column mapping (`profiles`);
2. read the file (`files`);
3. find the header row and map the headers (`layout`); layout problems raise;
4. turn the rows into records and settle duplicates (`records`);
5. merge, validate, write, and write or remove the rejects report (`merge`).

Empty input: a file with no symbol header, or no usable row (no data rows, or every row
rejected), raises `InputError` naming the file, the headers found and the headers the source's
profile expects (plus the first 20 rejections); nothing is written, not even the rejects report.
Rejections are reported sorted by (row, column, reason).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from screener.data.imports.files import read_table
from screener.data.imports.headers import normalise_header
from screener.data.imports.layout import build_layout, find_header_row
from screener.data.imports.merge import merge_into_snapshot
from screener.data.imports.profiles import KINDS, SOURCES, expected_headers, profile
from screener.data.imports.records import dedupe, read_records
from screener.data.imports.report import ImportReport
from screener.problems import InputError, Problem, suggestion

__all__ = ["import_file"]


def import_file(path: Path, *, source: str, kind: str, as_of: date, into: Path, config,
                rater: str | None = None) -> ImportReport:
    """Bring one vendor export into the snapshot folder `into` (see `screener.data.imports`).

    Returns an `ImportReport`. Raises `InputError` (exit 2) for an unknown source or kind, an
    unreadable file, a bad generic profile, headers it cannot place, nothing usable in the file,
    or a merged snapshot that fails its schema; in every such case nothing is written.
    Nulls: missing markers and empty cells are nulls; a null required value with others present
    rejects that snapshot row; all-null rows are skipped. Duplicates: see `records.dedupe`. Empty
    input (no data rows, or none usable): `InputError`.
    """
    path, into = Path(path), Path(into)
    display = config.display
    shown = display(path)
    if source not in SOURCES:
        raise InputError([Problem("bad-source", f"unknown source `{source}`", shown, hint=suggestion(source, SOURCES, "source"))])
    if kind not in KINDS:
        raise InputError([Problem("bad-kind", f"unknown kind `{kind}`", shown, hint=suggestion(kind, KINDS, "kind"))])
    if not path.is_file():
        raise InputError([Problem("no-file", "no such file", shown, hint="give the path of the exported .xlsx or .csv")])
    fields = profile(source, kind, config)  # a bad generic profile fails before the file is read
    table = read_table(path, shown)
    start = find_header_row(table.rows, fields)
    if start is None:
        first = next((r for r in table.rows if any(c.strip() for c in r)), [])
        found = [normalise_header(c).shown for c in first if c.strip()]
        raise InputError([Problem("nothing-usable", "no symbol column found; headers found: "
                                  + (", ".join(f"`{h}`" for h in found) or "none (the file is empty)"), shown,
                                  hint=f"{source} {kind} headers read: {expected_headers(source, kind, config)}")])
    headers = [normalise_header(c, i) for i, c in enumerate(table.rows[start])]
    layout = build_layout(headers, source, kind, config, as_of, rater, shown)
    if layout.problems:
        raise InputError(layout.problems)
    records, rejections, read, skipped = read_records(table, start, layout, kind, as_of, rater)
    records, dup_rejections = dedupe(records, layout.symbol.shown)
    rejections = sorted(rejections + dup_rejections, key=lambda r: (r.row, r.column, r.reason))
    if not records:
        msg = (f"nothing to import: {read} data row{'s' if read != 1 else ''} read, none usable"
               if read else "nothing to import: the file has a header row but no data rows")
        problems = [Problem("nothing-usable", msg + "; headers found: " + ", ".join(f"`{h.shown}`" for h in headers if h.shown),
                            shown, hint=f"{source} {kind} headers read: {expected_headers(source, kind, config)}")]
        for r in rejections[:20]:
            problems.append(Problem("rejected", f"row {r.row}, column `{r.column}`: {r.value!r} {r.reason}", shown))
        if len(rejections) > 20:
            problems.append(Problem("rejected", f"... and {len(rejections) - 20} more rejected rows", shown))
        raise InputError(problems)

    merged = merge_into_snapshot(kind, [rec.values for rec in records], rejections, into, display,
                                 getattr(config, "lock_timeout", 120.0))
    return ImportReport(
        source=source, kind=kind, file=shown, target=merged.target, rows_read=read, rows_imported=len(records),
        rows_new=merged.rows_new, rows_changed=merged.rows_changed, rows_unchanged=merged.rows_unchanged,
        rejected=tuple(rejections), rejected_report=merged.rejected_report, rows_skipped=skipped,
        encoding=table.encoding, notes=tuple(dict.fromkeys(layout.notes)), written=merged.written,
    )
