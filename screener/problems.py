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
        """`path:line:col: error[code]: message`, the source line with a caret, the hint."""
        where = f"{self.location()}: " if self.path else ""
        text = f"{where}{self.severity}[{self.code}]: {self.message}"
        if self.source_line is not None and self.col is not None:
            gutter = f"{self.line} | " if self.line is not None else "  | "
            pad = " " * (len(gutter) - 2) + "| "
            shown = self.source_line.rstrip("\n")
            text += f"\n  {gutter}{shown}\n  {pad}{_caret_pad(shown, self.col)}{'^' * max(1, self.width)}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
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
