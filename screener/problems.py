"""One problem type for every bad input: rule files, config, universes, snapshots.

Checkers collect `Problem`s and go on; only the CLI boundary turns them into text and
exit code 2. Positions are 1-based lines and 1-based *character* columns in the user's
file (never byte offsets, never offsets inside a TOML string).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """A single thing wrong with a user's input, with where it is and what to do."""

    code: str
    message: str
    path: str | None = None
    line: int | None = None
    col: int | None = None
    hint: str | None = None
    source_line: str | None = field(default=None, compare=False)
    width: int = field(default=1, compare=False)
    severity: str = "error"

    def location(self) -> str:
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def render(self) -> str:
        """`path:line:col: error[code]: message`, the source line with a caret, the hint.

        Safe to print whatever the input held: control characters are shown escaped
        (`outputs.safe.printable`: ESC as `\\x1b`), a long source line is shown as a window of
        `SHOWN_LINE` characters around the column ("…" where it is cut), and a message or hint
        longer than `SHOWN_MESSAGE` characters is cut, saying how much was left out."""
        from screener.outputs.safe import printable

        where = f"{printable(self.location(), one_line=True)}: " if self.path else ""
        text = f"{where}{self.severity}[{self.code}]: {_capped(printable(self.message))}"
        if self.source_line is not None and self.col is not None:
            gutter = f"{self.line} | " if self.line is not None else "  | "
            pad = " " * (len(gutter) - 2) + "| "
            shown, before, marked = _window(self.source_line.rstrip("\n"), self.col, self.width)
            text += f"\n  {gutter}{shown}\n  {pad}{_caret_pad(before, len(before) + 1)}{'^' * max(1, marked)}"
        if self.hint:
            text += f"\n  hint: {_capped(printable(self.hint))}"
        return text

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "hint": self.hint,
        }


#: characters of a source line an error shows: a window around the column (a 1 MB line is not echoed)
SHOWN_LINE = 200
#: characters of a message or hint an error shows
SHOWN_MESSAGE = 2000


def _capped(text: str, limit: int = SHOWN_MESSAGE) -> str:
    """`text`, or its first `limit` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def _window(line: str, col: int, width: int) -> tuple[str, str, int]:
    """What an error shows of a source line: (the shown text, the shown text before the caret,
    how many shown characters the carets mark). At most `SHOWN_LINE` characters of the line
    around `col`, "…" where it is cut; tabs as spaces (one column each, so the caret stays under
    its character) and control characters escaped (`printable`)."""
    from screener.outputs.safe import printable

    at = max(0, min(col - 1, len(line)))
    start = max(0, min(at - SHOWN_LINE // 2, len(line) - SHOWN_LINE))
    end = min(len(line), start + SHOWN_LINE)
    lead = "…" if start > 0 else ""
    tail = "…" if end < len(line) else ""
    piece = line[start:end].replace("\t", " ")
    before = lead + printable(piece[:at - start], one_line=True)
    marked = printable(piece[at - start:at - start + max(1, width)], one_line=True)
    return before + printable(piece[at - start:], one_line=True) + tail, before, max(1, len(marked))


def _caret_pad(line: str, col: int) -> str:
    """Spaces up to `col`, counting East Asian wide characters as two cells."""
    import unicodedata

    cells = 0
    for ch in line[: max(0, col - 1)]:
        cells += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return " " * cells


class InputError(Exception):
    """Bad input (rule, config or data): carries every problem found. Exit code 2."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def source_line(text: str, line: int) -> str | None:
    lines = text.splitlines()
    return lines[line - 1] if 1 <= line <= len(lines) else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word`, or None when nothing is close."""
    choices = list(choices)
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        match = [lowered[m] for m in match]
    return match[0] if match else None


def suggestion(word: str, choices: Iterable[str], kind: str = "") -> str:
    """`did you mean `x`?` or the list of valid choices when nothing is close."""
    choices = sorted(set(choices))
    near = did_you_mean(word, choices)
    if near is not None:
        return f"did you mean `{near}`?"
    listed = ", ".join(f"`{c}`" for c in choices[:30])
    more = " ..." if len(choices) > 30 else ""
    return f"valid {kind + ' ' if kind else ''}choices: {listed}{more}"
