"""Where a value sits in a TOML file's text.

`tomllib` gives values but no positions, so errors about a value (an unknown field inside a
filter string, a negative weight) find the key's line here and point at the value itself.
Covers what rule and config files use: `[table]` headers, `[[array]]` table headers (the n-th
one by `index`), `key = value` lines, and one-line inline tables
(`earnings = { expr = "...", weight = 0.5 }`). When the key cannot be
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
    """Where a string value's raw text starts (just after its opening quotes), and its kind.

    `basic` strings (double quotes) have escapes (`\\"`, `\\u5bd2`, and in multi-line ones a
    line-ending backslash) whose raw length differs from the decoded text the expression
    checker sees; `offset_to_file` walks the raw text to map decoded offsets back.
    """

    line: int
    col: int
    multiline: bool
    basic: bool = True


def _key_pattern(key: str) -> str:
    return r"(?:" + re.escape(key) + r"|\"" + re.escape(key) + r"\"|'" + re.escape(key) + r"')"


class TomlText:
    """The text of one TOML file, for position look-ups."""

    def __init__(self, text: str):
        self.text = text
        # TOML newlines are LF or CRLF only (as tomllib counts lines): `str.splitlines` would
        # also split on U+2028, \x0c, ... and shift every line number after one.
        self.lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
        self._line_starts = [0]
        for ln in text.split("\n")[:-1]:
            self._line_starts.append(self._line_starts[-1] + len(ln) + 1)
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
        """Line of `[table]`'s header, or of the first `[table.sub]` header; 1 when neither exists."""
        for name, start, _ in self._tables:
            if name == table:
                return max(1, start)  # the header line (1-based) is the line before `start`
        for name, start, _ in self._tables:
            if table and name.startswith(table + "."):
                return max(1, start)
        return 1

    def has_table(self, table: str) -> bool:
        """Whether a `[table]` (or `[table.sub]`) header exists."""
        return any(name == table or name.startswith(table + ".") for name, _, _ in self._tables[1:])

    def array_table_line(self, table: str, index: int) -> int:
        """Line of the `index`-th (0-based) `[[table]]` header; else the line of a root
        `table = [...]` key (an array of inline tables); else 1."""
        spans = [start for name, start, _ in self._tables[1:] if name == table]
        if index < len(spans):
            return max(1, spans[index])
        return self._locate("", table, None, want_key=True).line

    def value(self, table: str, key: str, subkey: str | None = None, index: int | None = None) -> Pos:
        """Position of `key`'s value in `[table]` (or of `subkey` inside its inline table).

        `index` picks the `index`-th (0-based) `[[table]]` of an array of tables; when that
        table or key is not found the position is its header line, column 1.
        """
        return self._locate(table, key, subkey, want_key=False, index=index)

    def key(self, table: str, key: str, subkey: str | None = None, index: int | None = None) -> Pos:
        """Position of the key itself (for problems about the key, such as an unknown one)."""
        return self._locate(table, key, subkey, want_key=True, index=index)

    def _locate(self, table: str, key: str, subkey: str | None, want_key: bool, index: int | None = None) -> Pos:
        pat = re.compile(r"^(\s*)(" + _key_pattern(key) + r"\s*=\s*)")
        seen = -1
        for name, start, end in self._tables:
            if name != table:
                continue
            seen += 1
            if index is not None and seen != index:
                continue
            for i in range(start, end):
                m = pat.match(self.lines[i])
                if not m:
                    continue
                col = m.end(2) + 1
                if subkey is None:
                    return Pos(i + 1, m.end(1) + 1 if want_key else col)
                sub = re.compile(r"[{,]\s*(" + _key_pattern(subkey) + r"\s*=\s*)")
                sm = sub.search(self.lines[i], col - 1)
                if sm:
                    return Pos(i + 1, (sm.start(1) if want_key else sm.end(1)) + 1)
                return Pos(i + 1, col)
        if index is not None:
            return Pos(self.array_table_line(table, index), 1)
        # `[scores.earnings]` sub-table form
        if subkey is not None:
            return self._locate(f"{table}.{key}", subkey, None, want_key)
        if want_key:  # a key that is a sub-table: its `[table.key]` header line
            sub = f"{table}.{key}" if table else key
            for name, start, _ in self._tables:
                if name == sub:
                    return Pos(max(1, start), 1)
        return Pos(self.table_line(table), 1)

    def string_content(self, pos: Pos) -> StringPos:
        """Where the raw characters of the string whose opening quote is at `pos` begin."""
        line = self.lines[pos.line - 1] if 0 < pos.line <= len(self.lines) else ""
        rest = line[pos.col - 1:]
        for quote in ('"""', "'''"):
            if rest.startswith(quote):
                return StringPos(pos.line, pos.col + len(quote), True, quote[0] == '"')
        if rest[:1] in ("'", '"'):
            return StringPos(pos.line, pos.col + 1, False, rest[0] == '"')
        return StringPos(pos.line, pos.col, False, False)

    def offset_to_file(self, start: StringPos, offset: int) -> Pos:
        """Map a character offset inside a decoded string value onto the file's line and column.

        Walks the raw text from just after the opening quotes, decoding as TOML does: a newline
        right after multi-line opening quotes is dropped, escapes (`\\"`, `\\t`, `\\u5bd2`) are
        one decoded character, CRLF is one, and a line-ending backslash with the whitespace and
        newlines after it is none. An offset at or past the end points just past the content.
        """
        text = self.text
        if not 0 < start.line <= len(self._line_starts):
            return Pos(start.line, start.col)
        i = self._line_starts[start.line - 1] + start.col - 1
        n = len(text)
        if start.multiline:  # TOML trims a newline right after the opening quotes
            if text.startswith("\r\n", i):
                i += 2
            elif text.startswith("\n", i):
                i += 1
        done = 0
        while i < n:
            if start.basic and start.multiline and text[i] == "\\":
                j = i + 1
                while j < n and text[j] in " \t":
                    j += 1
                if j < n and text[j] in "\r\n":  # line-ending backslash: decodes to nothing
                    while j < n and text[j] in " \t\r\n":
                        j += 1
                    i = j
                    continue
            if done >= offset:
                break
            if start.basic and text[i] == "\\" and i + 1 < n:
                i += {"u": 6, "U": 10}.get(text[i + 1], 2)
            elif start.multiline and text.startswith("\r\n", i):
                i += 2
            else:
                i += 1
            done += 1
        line, col = line_col(text, min(i, n))
        return Pos(line, col)

    def source_line(self, line: int) -> str | None:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None


_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def toml_error_position(message: str) -> tuple[str, int | None, int | None]:
    """Split tomllib's `"... (at line 3, column 7)"` into (message, line, column)."""
    m = _TOML_AT.search(message)
    if not m:
        return message, None, None
    return message[: m.start()].strip(), int(m.group(1)), int(m.group(2))
