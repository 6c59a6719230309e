"""What an import reports: `ImportReport`, its `Rejection`s, and the rejects CSV.

The rejects report (`<kind>.rejected.csv` beside the snapshot file) is UTF-8 with a byte-order
mark (so Excel reads it), columns `row,column,value,reason`, one line per rejection in the order
given; the column and value cells are neutralised against formula injection. No rejections give
a file with the header line only (the caller removes the file instead of writing that).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass

__all__ = ["Rejection", "ImportReport", "rejects_csv"]


@dataclass(frozen=True)
class Rejection:
    """One vendor cell (or row) that did not make it into the snapshot, and why."""

    row: int  # 1-based data row in the vendor file, header excluded
    column: str  # the header as the file writes it (line breaks shown as spaces)
    value: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    source: str
    kind: str
    file: str
    target: str  # the snapshot file written (as shown to the user)
    rows_read: int  # data rows of the vendor file (blank and footer rows not counted)
    rows_imported: int  # snapshot rows the file gave (= new + changed + unchanged)
    rows_new: int
    rows_changed: int
    rows_unchanged: int
    rejected: tuple[Rejection, ...]
    rejected_report: str | None  # the rejects CSV beside the snapshot, or None
    rows_skipped: int = 0  # data rows with nothing to import (every value missing)
    encoding: str | None = None  # detected text encoding (None for Excel files)
    notes: tuple[str, ...] = ()  # ignored headers, dates in headers that differ from --as-of, ...
    written: bool = False  # whether the snapshot file's bytes changed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected"] = [asdict(r) for r in self.rejected]
        d["notes"] = list(self.notes)
        return d


def rejects_csv(rejections: list[Rejection]) -> bytes:
    """The rejects report's bytes (see the module docstring)."""
    from screener.outputs.safe import neutralise_formula, printable

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "column", "value", "reason"])
    for r in rejections:
        w.writerow([r.row, neutralise_formula(printable(str(r.column), one_line=True)),
                    neutralise_formula(printable(str(r.value), one_line=True)), printable(str(r.reason), one_line=True)])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")
