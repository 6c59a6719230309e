"""Where a value sits in a TOML file's text.

`tomllib` gives values but no positions, so errors about a value (an unknown field inside a
filter string, a negative weight) find the key's line here and point at the value itself.
Covers what rule and config files use: `[table]` headers, `key = value` lines, and
one-line inline tables (`earnings = { expr = "...", weight = 0.5 }`). When the key cannot be
found (unusual layouts such as dotted keys), the position falls back to the table header or
line 1, never to a wrong place inside another value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screener.problems import line_col

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")


@dataclass(frozen=True)
class Pos:
    """1-based line and character column of a value's first character in the file."""

    line: int
    col: int


@dataclass(frozen=True)
class StringPos:
    """Where a string value's *content* starts, and how to map offsets inside it."""

    line: int
    col: int
    multiline: bool


def _key_pattern(key: str) -> str:
    return r"(?:" + re.escape(key) + r"|\"" + re.escape(key) + r"\"|'" + re.escape(key) + r"')"


class TomlText:
    """The text of one TOML file, for position look-ups."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines()
        self._tables = self._index_tables()

    def _index_tables(self) -> list[tuple[str, int, int]]:
        """(table name, first line index, last line index exclusive); '' is the root table."""
        spans: list[tuple[str, int, int]] = []
        current, start = "", 0
        for i, raw in enumerate(self.lines):
            m = _ARRAY_HEADER.match(raw) or _HEADER.match(raw)
            if m:
                spans.append((current, start, i))
                current = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
                start = i + 1
        spans.append((current, start, len(self.lines)))
        return spans

    def table_line(self, table: str) -> int:
        for name, start, _ in self._tables:
            if name == table:
                return max(1, start)  # the header line (1-based) is the line before `start`
        return 1

    def value(self, table: str, key: str, subkey: str | None = None) -> Pos:
        """Position of `key`'s value in `[table]` (or of `subkey` inside its inline table)."""
        pat = re.compile(r"^(\s*" + _key_pattern(key) + r"\s*=\s*)")
        for name, start, end in self._tables:
            if name != table:
                continue
            for i in range(start, end):
                m = pat.match(self.lines[i])
                if not m:
                    continue
                col = len(m.group(1)) + 1
                if subkey is None:
                    return Pos(i + 1, col)
                sub = re.compile(r"[{,]\s*(" + _key_pattern(subkey) + r"\s*=\s*)")
                sm = sub.search(self.lines[i], col - 1)
                if sm:
                    return Pos(i + 1, sm.end(1) + 1)
                return Pos(i + 1, col)
        # `[scores.earnings]` sub-table form
        if subkey is not None:
            return self.value(f"{table}.{key}", subkey)
        return Pos(self.table_line(table), 1)

    def string_content(self, pos: Pos) -> StringPos:
        """Where the characters of the string whose opening quote is at `pos` begin."""
        line = self.lines[pos.line - 1] if 0 < pos.line <= len(self.lines) else ""
        rest = line[pos.col - 1:]
        for quote in ('"""', "'''"):
            if rest.startswith(quote):
                after = rest[len(quote):]
                if after.strip() == "" or after.strip().startswith("\\"):
                    # TOML trims a newline right after the opening quotes
                    return StringPos(pos.line + 1, 1, True)
                return StringPos(pos.line, pos.col + len(quote), True)
        if rest[:1] in ("'", '"'):
            return StringPos(pos.line, pos.col + 1, False)
        return StringPos(pos.line, pos.col, False)

    def offset_to_file(self, start: StringPos, source: str, offset: int) -> Pos:
        """Map a character offset inside a string value onto the file's line and column."""
        line, col = line_col(source, offset)
        if line == 1:
            return Pos(start.line, start.col + col - 1)
        return Pos(start.line + line - 1, col)

    def source_line(self, line: int) -> str | None:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None


_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def toml_error_position(message: str) -> tuple[str, int | None, int | None]:
    """Split tomllib's `"... (at line 3, column 7)"` into (message, line, column)."""
    m = _TOML_AT.search(message)
    if not m:
        return message, None, None
    return message[: m.start()].strip(), int(m.group(1)), int(m.group(2))
