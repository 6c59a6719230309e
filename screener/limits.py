"""Bounded resources: how large an input may be, and which files may be read at all.

Every input is checked against these limits *before* anything large is built from it (a parse,
a frame, a tree), so a hostile or broken file costs a bounded amount of memory and time and
ends in an exit-2 error that names the file, where in it, and the `[limits]` key to raise:

    [limits]                        # config.toml; the defaults
    rule_file_bytes = 1048576       # a rule file (1 MB)
    expression_chars = 20000        # one expression
    filters_and_scores = 500        # the filters and scores of one rule together
    header_columns = 10000          # columns in a data or universe file's header
    cell_bytes = 65536              # one cell of a data or universe file (64 KB)
    line_bytes = 16777216           # one line of a data or universe file (16 MB)

`load_config` sets the limits every later check in the process uses (`active()`); code that
never loads a config gets the defaults.

Special files: where a rule, snapshot, universe or config file should be, anything but a regular
file (a FIFO, a device such as /dev/zero, a directory, a socket, a symlink loop, a dangling
symlink) is an error naming the path, and is never opened for reading (`regular_file`).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

from screener.problems import InputError, Problem


@dataclass(frozen=True)
class Limits:
    rule_file_bytes: int = 1024 * 1024
    expression_chars: int = 20_000
    filters_and_scores: int = 500
    header_columns: int = 10_000
    cell_bytes: int = 64 * 1024
    line_bytes: int = 16 * 1024 * 1024

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


DEFAULTS = Limits()

#: the dates an input may hold (data files' `as_of`, `added`, `removed`; a rule's `until` and
#: `as_of`; `--as-of`): `0000-01-01` or `9999-12-31` is a typing accident or a placeholder
DATE_RANGE = (date(1900, 1, 1), date(2199, 12, 31))
_active = DEFAULTS


def active() -> Limits:
    """The limits of the config loaded last in this process (the defaults before any)."""
    return _active


def set_active(limits: Limits) -> None:
    global _active
    _active = limits


def raise_hint(key: str, value: int) -> str:
    return (f"if the file is right, raise the limit in config.toml: [limits] {key} = {max(value, 1) * 2} "
            f"(now {value})")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path: Path) -> str | None:
    """What `path` is when it exists but is not a regular file (following symlinks): "a folder",
    "a FIFO (named pipe)", "a character device", "a symlink loop", "a dangling symlink" ...;
    None for a regular file or for nothing at all (no such name). Never opens the path."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symlink loop"
        if e.errno == errno.ENOENT and os.path.islink(path):
            return f"a dangling symlink (to {os.readlink(path)})"
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        return None  # permission and the like: opening it says what is wrong
    if stat.S_ISREG(st.st_mode):
        return None
    for test, name in _KINDS:
        if test(st.st_mode):
            return name
    return "not a regular file"


def exists_at_all(path: Path) -> bool:
    """Whether anything, even a dangling symlink, is at `path`."""
    return os.path.lexists(path)


def special_problem(path: Path, shown: str, what: str, kind: str) -> Problem:
    return Problem("not-a-file", f"the {what} is {kind}, not a regular file", shown,
                   hint=f"put a regular {what} at {shown}, or remove what is there")


def regular_file(path: Path, shown: str, what: str) -> None:
    """Raise `InputError` when `path` exists but is not a regular file (see `special_kind`)."""
    kind = special_kind(path)
    if kind is not None:
        raise InputError([special_problem(path, shown, what, kind)])


def read_bytes(path: Path, shown: str, what: str, limit: int | None = None, key: str | None = None) -> bytes:
    """A regular file's bytes, at most `limit` of them (an error naming `[limits] key` above it).

    The file is checked to be regular before it is opened, opened without blocking (a FIFO swapped
    in meanwhile cannot hang us) and checked again on the open descriptor; the size is compared
    with the limit before the bytes are read, and no more than `limit + 1` bytes are ever read.
    Raises FileNotFoundError when nothing is there (callers word that themselves)."""
    regular_file(path, shown, what)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError([special_problem(path, shown, what, "not a regular file")])
        if limit is not None and st.st_size > limit:
            raise InputError([too_large(shown, what, st.st_size, limit, key)])
        chunks, total = [], 0
        cap = (limit + 1) if limit is not None else None
        while True:
            want = 1 << 20 if cap is None else min(1 << 20, cap - total)
            if want <= 0:
                break
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if limit is not None and total > limit:  # it grew while we read it
            raise InputError([too_large(shown, what, total, limit, key)])
        return b"".join(chunks)
    finally:
        os.close(fd)


def too_large(shown: str, what: str, size: int, limit: int, key: str | None) -> Problem:
    return Problem("limit", f"the {what} is {_size(size)}, more than the limit of {_size(limit)}", shown,
                   hint=raise_hint(key, limit) if key else None)


def read_text(path: Path, shown: str, what: str, limit: int | None = None, key: str | None = None) -> str:
    """`read_bytes` decoded as UTF-8 (a BOM dropped); UnicodeDecodeError propagates."""
    return read_bytes(path, shown, what, limit, key).decode("utf-8-sig")


# -- tables: header width, line and cell length, checked by streaming before any parse ----------

_CHUNK = 1 << 16


def check_table_shape(path: Path, shown: str, limits: Limits | None = None) -> None:
    """Raise `InputError` when a CSV file's header has more columns than `header_columns`, a line is
    longer than `line_bytes` or a cell longer than `cell_bytes`; the file is streamed in small
    chunks and nothing of it is kept, so the check itself is bounded whatever the file holds.

    Only lines longer than `cell_bytes` are split into cells (with the csv module), so a
    well-formed file costs one pass of `bytes.find`. Parquet files are checked by their schema."""
    limits = limits or active()
    if path.suffix.lower() == ".parquet":
        return _check_parquet_shape(path, shown, limits)
    regular_file(path, shown, "data file")
    chunk_size = max(1, min(_CHUNK, limits.cell_bytes, limits.line_bytes))
    with open(path, "rb", buffering=0) as f:
        _first_line(f, shown, limits)
        f.seek(0)
        # Every line that starts and ends inside one chunk is shorter than the chunk, so within
        # both limits: per chunk only the line running into it (up to its first newline) and the
        # one running out of it (after its last newline) are measured.
        line_no, run, line_start, offset = 1, 0, 0, 0  # run: bytes of the current line seen so far
        long_lines: list[tuple[int, int, int]] = []
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                break
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
            else:
                run += first
                if run > limits.cell_bytes and run <= limits.line_bytes:
                    long_lines.append((line_no, line_start, run))
                if run <= limits.line_bytes:
                    last = chunk.rfind(b"\n")
                    line_no += chunk.count(b"\n")
                    run = len(chunk) - last - 1
                    line_start = offset + last + 1
            if run > limits.line_bytes:
                raise InputError([Problem("limit", f"line {line_no} is longer than the limit of "
                                          f"{_size(limits.line_bytes)}", shown, line_no, 1,
                                          raise_hint("line_bytes", limits.line_bytes))])
            offset += len(chunk)
        if run > limits.cell_bytes:
            long_lines.append((line_no, line_start, run))
        for line_no, start, length in long_lines:
            f.seek(start)
            _check_cells(f.read(length), line_no, shown, limits)


def check_header(path: Path, shown: str, limits: Limits | None = None) -> None:
    """Only the header's width (and length) of a CSV file: reads no further than the limits allow."""
    limits = limits or active()
    if path.suffix.lower() == ".parquet":
        return
    regular_file(path, shown, "data file")
    with open(path, "rb", buffering=0) as f:
        _first_line(f, shown, limits)


def _first_line(f, shown: str, limits: Limits) -> bytes:
    """The header line, read in chunks; refused as soon as it has more columns than
    `header_columns` or more bytes than `line_bytes` (a file without newlines is never read whole)."""
    parts, total, commas = [], 0, 0
    while True:
        chunk = f.read(_CHUNK)
        if not chunk:
            break
        nl = chunk.find(b"\n")
        piece = chunk if nl < 0 else chunk[:nl]
        parts.append(piece)
        total += len(piece)
        commas += piece.count(b",")
        if commas + 1 > limits.header_columns:
            more = "" if nl >= 0 else " or more"
            raise InputError([Problem("limit", f"the header has {commas + 1:,}{more} columns, more than the limit of "
                                      f"{limits.header_columns:,}", shown, 1, 1,
                                      raise_hint("header_columns", limits.header_columns))])
        if total > limits.line_bytes:
            raise InputError([Problem("limit", f"line 1 is longer than the limit of {_size(limits.line_bytes)}",
                                      shown, 1, 1, raise_hint("line_bytes", limits.line_bytes))])
        if nl >= 0:
            break
    return b"".join(parts)


def _check_cells(line: bytes, line_no: int, shown: str, limits: Limits) -> None:
    import csv

    text = line.decode("utf-8", errors="replace")
    col = 1
    try:
        cells = next(csv.reader([text.rstrip("\r")]), [])
    except csv.Error:
        cells = text.split(",")
    for i, cell in enumerate(cells):
        field_size = len(cell.encode("utf-8", errors="surrogatepass"))
        if field_size > limits.cell_bytes:
            raise InputError([Problem("limit", f"line {line_no}, column {i + 1}: the cell is {_size(field_size)}, "
                                      f"more than the limit of {_size(limits.cell_bytes)}", shown, line_no, col,
                                      raise_hint("cell_bytes", limits.cell_bytes))])
        col += len(cell) + 1


def _check_parquet_shape(path: Path, shown: str, limits: Limits) -> None:
    regular_file(path, shown, "data file")
    import polars as pl

    try:
        width = len(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return  # unreadable: the reader says so
    if width > limits.header_columns:
        raise InputError([Problem("limit", f"the file has {width:,} columns, more than the limit of "
                                  f"{limits.header_columns:,}", shown, hint=raise_hint("header_columns", limits.header_columns))])


def parse_limits(table, problem) -> Limits:
    """`[limits]` of config.toml as `Limits`; `problem(code, message, key, hint)` records each bad value."""
    values = {}
    for key in Limits.keys():
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problem("bad-value", f"limits.{key} must be a whole number of at least 1, got {value!r}", key,
                    f"{key} = {getattr(DEFAULTS, key)}  # the default")
            continue
        values[key] = value
    return Limits(**values)
