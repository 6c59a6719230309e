"""Output safety: text that a spreadsheet would execute is neutralised; text that a terminal would
act on is shown escaped; paths stay inside the output folder and never take the project's own
names.

Control characters. A name, note, reason or rule text may carry characters that a terminal obeys
rather than shows (`ESC ] 0 ; title BEL` retitles the window, `ESC [ 2 J` clears the screen, a C1
`CSI` does the same on some terminals) or that reorder what is shown (bidi overrides such as
U+202E). `printable` shows each as a visible escape (`\\x1b`, `\\u202e`), so the text is still
there to read and to fix, and nothing acts on it. Where each output stands:

- terminal (every table, line and error message), CSV, XLSX, HTML, Markdown and the index page:
  escaped with `printable` (newlines and tabs kept where text may have several lines, except in
  terminal table cells, where they are escaped too so that one row stays one line);
- JSON (exports, `--json` on stdout): the data is unchanged; JSON already writes C0 characters as
  `\\u001b`, and `json_safe` writes DEL, C1 and the bidi controls as `\\u` escapes too, so no raw
  control byte reaches a terminal that shows the file;
- Parquet: values are kept as read. It is data for programs, not a display; a program that shows
  it should escape it (as this module does).
"""

from __future__ import annotations

import re
from pathlib import Path

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Prefix a `'` to text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR
    first). Only for text cells: numbers are written as numbers and stay untouched."""
    return "'" + text if text.startswith(_FORMULA_START) else text


#: characters that reorder text or separate lines outside C0 (Unicode bidi controls: LRM, RLM,
#: ALM, embeddings, overrides, isolates; line and paragraph separators)
_REORDER = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: everything `printable` escapes except newline, tab and the CR of a CRLF: C0, DEL, C1 and `_REORDER`
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_REORDER}]|\r(?!\n)")
#: the same, newline and tab included (one-line text: a table cell, a title)
_CONTROL_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_REORDER}]")
#: what JSON leaves raw that a terminal may act on (JSON escapes C0 itself)
_JSON_RAW = re.compile(f"[\x7f-\x9f{_REORDER}]")


def _escaped(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, one_line: bool = False) -> str:
    """`text` with every control character shown as an escape (`ESC` as `\\x1b`, U+202E as
    `\\u202e`): C0 (newline, tab and the CR of a CRLF kept, unless `one_line`), DEL, C1 and the
    bidi controls.
    Text without them comes back as it is."""
    pattern = _CONTROL_LINE if one_line else _CONTROL
    return pattern.sub(_escaped, text) if pattern.search(text) else text


def has_control(text: str, one_line: bool = False) -> bool:
    """Whether `printable` would change `text`."""
    return (_CONTROL_LINE if one_line else _CONTROL).search(text) is not None


def json_safe(text: str) -> str:
    """JSON text with DEL, C1 and the bidi controls written as `\\uXXXX` escapes: the same JSON
    value (those characters can only stand inside strings), with no raw byte a terminal acts on."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _JSON_RAW.search(text) else text


def json_escapes() -> tuple[list[str], list[str]]:
    """What `json_safe` replaces, as two lists (the characters, their `\\uXXXX` escapes) for
    polars' `str.replace_many`."""
    chars = [chr(c) for c in range(0x7F, 0xA0)] + ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"]
    chars += [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    return chars, [f"\\u{ord(c):04x}" for c in chars]


#: `_JSON_RAW` and a superset of what `printable` escapes (CR included), as regex text that both
#: Python's `re` and polars (Rust's regex) read: to find, column by column, the text that needs it
_REORDER_ESCAPED = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
JSON_RAW_PATTERN = rf"[\x7f-\x9f{_REORDER_ESCAPED}]"
CONTROL_PATTERN = rf"[\x00-\x08\x0b-\x1f\x7f-\x9f{_REORDER_ESCAPED}]"


# ------------------------------------------------------------------ folder names

#: what a folder name keeps: letters and digits of any script (a rule named in Chinese keeps its
#: name), `_`, `.` and `-`; anything else (separators, spaces, controls, `@`) becomes `_`
_UNSAFE = re.compile(r"[^\w.\-]+")
#: a folder name's length in UTF-8 bytes at most (file systems allow 255; a CJK character is 3)
_MAX_BYTES = 200

#: the mark of an escaped folder name: never in an ordinary one (`_UNSAFE` replaces it), so an
#: escaped name can never equal an ordinary one
ESCAPE_MARK = "@"

#: names the project writes, or may write, directly in the output folder (compared without
#: case: macOS and Windows file systems ignore it). `history` and every `history.*` (the
#: SQLite file, its -wal/-shm/-journal, a database set aside, folders of run detail beside it),
#: the scheduler's status file, the index page, the backtests and sweeps folders; any `*.lock`; and the
#: device names Windows reserves (`nul`, `con.txt` ...)
RESERVED_NAMES = frozenset({"history", "schedule-status.json", "index.html", "backtests", "sweeps"})
RESERVED_PREFIXES = ("history.", "schedule-status.json.", "index.html.")
RESERVED_SUFFIXES = (".lock",)
_WINDOWS_DEVICES = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)


def reserved(name: str) -> bool:
    """Whether `name` (already cleaned) could collide with a file of the project's own in the
    output folder, or is hidden or special: empty, starting with a dot, `RESERVED_NAMES` and
    the names starting or ending as `RESERVED_PREFIXES` / `RESERVED_SUFFIXES` say, Windows device
    names."""
    low = name.lower()
    return (not name or name.startswith(".") or low in RESERVED_NAMES or low.startswith(RESERVED_PREFIXES)
            or low.endswith(RESERVED_SUFFIXES) or _WINDOWS_DEVICES.fullmatch(name) is not None)


def safe_component(name: str) -> str:
    """A single path component made from user text (a rule's file stem): no separators, never
    empty, never one of the project's own names. Characters other than letters and digits (of
    any script: `中文规则` stays `中文规则`), `_ . -` become `_`, and the result is cut to 100
    characters and 200 UTF-8 bytes: an ordinary stem (`esg_compute_leaders`) is its own folder
    name. A name `reserved` says could collide
    (`history.sqlite`, `schedule-status.json`, `index.html`, `x.lock`, `.`, `..`, `.hidden`) is
    escaped: `@` before it (and after it when it ends with a dot, which Windows drops), so
    `history.sqlite` -> `@history.sqlite`, `..` -> `@..@`, `.` -> `@.@`. `@` never survives in an
    ordinary name, so an escaped name cannot meet one. Apply it once: it is not idempotent."""
    import unicodedata

    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name))[:100]
    while len(cleaned.encode("utf-8")) > _MAX_BYTES:
        cleaned = cleaned[:-1]
    if not reserved(cleaned):
        return cleaned
    return ESCAPE_MARK + cleaned + (ESCAPE_MARK if cleaned.endswith((".", " ")) else "")


def inside(folder: Path, target: Path) -> Path:
    """`target`, after checking that it resolves inside `folder` (raises ValueError otherwise)."""
    root = folder.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"{target} is outside {folder}")
    return target


def template_text(value):
    """Jinja2's `finalize` for every page we render: text is `printable` (newlines and tabs kept)
    before autoescape. Markup (a filter's escaped output, `__html__`) stays markup: `printable`
    adds only backslashes, letters and digits, which need no escaping. Other values pass as they are."""
    if not isinstance(value, str):
        return value
    if hasattr(value, "__html__"):
        shown = printable(str(value))
        return value if shown == value else type(value)(shown)
    return printable(value)
