"""A vendor file -> a `Table`: every row as a list of text cells, and the encoding it was read in.

`.xlsx` / `.xlsm` (or any file starting like a zip): the first worksheet, cached formula values
(openpyxl); integral numbers lose their `.0`, other numbers keep their shortest exact repr, dates
become ISO, percentage-formatted cells keep their `%` so the unit travels with the value, and
codes stored as numbers under a `000000` format get their leading zeros back. `.csv`, `.txt`,
`.tsv`: the encoding is detected from the bytes: a UTF-8 byte-order mark, a UTF-16 byte-order
mark (Wind's "Unicode text"), valid UTF-8, else GB18030 (a superset of GBK and GB2312, which is
what Chinese Excel saves). The delimiter (comma, tab or semicolon) is the one the header line
holds most of (a tie goes to the comma, then the tab). `.xls` (Excel 97) is refused with a hint
to save as `.xlsx`.

Nulls and empty input: an empty Excel cell (or a NaN) is ``""``; CSV cells are stripped. An empty
file gives a `Table` with no rows (the caller finds no header in it). An unreadable file, an
undecodable one or a broken workbook raises `InputError`; openpyxl missing is an `InputError`
with an install hint.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from screener.data.imports.units import decimal_text
from screener.problems import InputError, Problem

__all__ = ["Table", "read_table"]


@dataclass
class Table:
    """A vendor file's cells as text, row by row (rows may differ in length)."""

    rows: list[list[str]]
    encoding: str | None  # the detected text encoding; None for Excel files


def read_table(path: Path, shown: str) -> Table:
    """Read `path` (an Excel or text file) as a `Table`; `shown` names it in problems."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError([Problem("unsupported", "old Excel (.xls) files are not read", shown,
                                  hint="open it in Excel and save it as .xlsx, or export CSV")])
    try:
        if suffix not in (".xlsx", ".xlsm"):
            with open(path, "rb") as fh:
                excel = fh.read(4) == b"PK\x03\x04"
            if not excel:  # a text export: its shape is checked, streamed, before the whole file is read
                from screener import limits

                limits.check_table_shape(path, shown)
        raw = path.read_bytes()
    except OSError as e:
        raise InputError([Problem("unreadable", f"cannot read the file: {e.strerror or e}", shown)]) from None
    if suffix in (".xlsx", ".xlsm") or raw.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, shown)
    return _read_csv(raw, shown)


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return raw.decode("gb18030"), "gb18030"


def _read_csv(raw: bytes, shown: str) -> Table:
    try:
        text, encoding = _decode(raw)
    except UnicodeDecodeError as e:
        raise InputError([Problem("encoding", f"cannot tell the text encoding (byte {e.start} is neither UTF-8 "
                                  "nor GBK/GB18030)", shown, hint="save it as UTF-8 CSV or as .xlsx")]) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=lambda d: (first.count(d), d == ","))
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        rows = [[c.strip().lstrip("\ufeff") for c in r] for r in reader]
    except csv.Error as e:
        raise InputError([Problem("unreadable", f"cannot read the CSV: {e}", shown)]) from None
    return Table(rows, encoding)


def _cell_text(cell) -> str:
    """An Excel cell as text: integral numbers without `.0`, other numbers by their shortest
    exact repr, dates ISO, percentages as `12.5%` so the unit travels with the value."""
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)):
        fmt = getattr(cell, "number_format", "") or ""
        if isinstance(v, float) and v != v:
            return ""
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        if "%" in fmt:
            return decimal_text(d * 100) + "%"
        text = decimal_text(d)
        if re.fullmatch(r"0{2,}", fmt) and re.fullmatch(r"\d+", text):  # codes such as 000977 stored as numbers
            text = text.zfill(len(fmt))
        return text
    return str(v).strip()


def _read_xlsx(path: Path, shown: str) -> Table:
    try:
        import openpyxl
    except ImportError:
        raise InputError([Problem("missing-dependency", "reading .xlsx files needs openpyxl", shown,
                                  hint="pip install openpyxl, or save the export as CSV")]) from None
    import zipfile

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError, openpyxl.utils.exceptions.InvalidFileException) as e:
        raise InputError([Problem("unreadable", f"cannot read the Excel file: {e}", shown,
                                  hint="open it in Excel and save it again as .xlsx")]) from None
    try:
        ws = wb.worksheets[0]
        rows = [[_cell_text(c) for c in r] for r in ws.iter_rows()]
    finally:
        wb.close()
    return Table(rows, None)
