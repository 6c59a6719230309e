"""Rule files: TOML text -> one immutable, checked `Screen`.

A `Screen` is named filters (conditions that must all hold) plus named weighted scores, over
one or more universes, with an optional top N. Everything is checked here, before any data is
read: TOML syntax, keys, types, universes, and every expression (names, types, grade literals).
All problems in a file are collected, each with file:line:col; `load_rule` raises `InputError`
carrying them all.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from screener.rules.expr import ExprError, Node, compile_expr, referenced_fields
from screener.problems import InputError, Problem, suggestion
from screener.rules.tomlpos import TomlText, toml_error_position

NORMALIZERS = ("rank", "zscore", "minmax")
TOP_KEYS = ("name", "description", "universe", "filters", "scores", "output")
SCORE_KEYS = ("expr", "weight", "normalize", "higher_is_better")
OUTPUT_KEYS = ("top",)


@dataclass(frozen=True)
class Filter:
    name: str
    source: str
    node: Node

    @property
    def fields(self) -> list[str]:
        return referenced_fields(self.node)


@dataclass(frozen=True)
class Score:
    name: str
    source: str
    node: Node
    weight: float  # as written; `Screen.weights` gives them scaled to sum to 1
    normalize: str = "rank"
    higher_is_better: bool = True

    @property
    def fields(self) -> list[str]:
        return referenced_fields(self.node)


@dataclass(frozen=True)
class Screen:
    """A checked rule file. Immutable: the engine only reads it."""

    name: str
    description: str
    path: str
    stem: str
    text: str
    universes: tuple[str, ...]
    filters: tuple[Filter, ...]
    scores: tuple[Score, ...]
    top: int | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def weights(self) -> tuple[float, ...]:
        total = sum(s.weight for s in self.scores)
        return tuple(s.weight / total for s in self.scores)

    def fields(self) -> list[str]:
        """Fields the rule reads, in order of first use (filters, then scores)."""
        out: list[str] = []
        for part in (*self.filters, *self.scores):
            for f in part.fields:
                if f not in out:
                    out.append(f)
        return out


def load_rule(path: str | Path, known_universes: list[str] | None = None, display_path: str | None = None) -> Screen:
    """Read and check one rule file. Raises `InputError` with every problem found."""
    path = Path(path)
    shown = display_path or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the TOML
    except FileNotFoundError:
        raise InputError([Problem("no-file", "rule file not found", shown,
                                  hint="check the path; `screener check` lists the rules in rules/")]) from None
    except UnicodeDecodeError as e:
        raise InputError([Problem("encoding", f"rule file is not UTF-8 text ({e.reason} at byte {e.start})", shown,
                                  hint="save the file as UTF-8")]) from None
    except OSError as e:
        raise InputError([Problem("unreadable", f"cannot read the rule file: {e.strerror}", shown)]) from None
    return parse_rule(text, shown, path.stem, known_universes)


def parse_rule(text: str, path: str, stem: str, known_universes: list[str] | None = None) -> Screen:
    """Check rule text. `known_universes=None` skips the universe-name check."""
    checker = _RuleChecker(text, path, known_universes)
    screen = checker.run(stem)
    if checker.problems:
        raise InputError(checker.problems)
    assert screen is not None
    return screen


class _RuleChecker:
    def __init__(self, text: str, path: str, known_universes: list[str] | None):
        self.text = text
        self.path = path
        self.known = known_universes
        self.toml = TomlText(text)
        self.problems: list[Problem] = []

    def problem(self, code: str, message: str, line: int | None, col: int | None, hint: str | None = None, width: int = 1):
        src = self.toml.source_line(line) if line else None
        self.problems.append(Problem(code, message, self.path, line, col, hint, src, width))

    def at(self, table: str, key: str, subkey: str | None = None):
        p = self.toml.value(table, key, subkey)
        return p.line, p.col

    def run(self, stem: str) -> Screen | None:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as e:
            msg, line, col = toml_error_position(str(e))
            self.problem("toml", f"not valid TOML: {msg}", line, col,
                         "check quotes and brackets on that line; text values need quotes: rated = \"esg_rating >= 'AA-'\"")
            return None

        for key in data:
            if key not in TOP_KEYS:
                pos = self.toml.key("", key)
                line, col = pos.line, pos.col
                if isinstance(data[key], dict) and self.toml.has_table(key):  # `[key]`, not `key = {...}`
                    line, col = self.toml.table_line(key), 1
                self.problem("unknown-key", f"unknown key `{key}`", line, col, suggestion(key, TOP_KEYS, "key"))

        name = data.get("name", stem)
        if not isinstance(name, str) or not name.strip():
            self.problem("bad-value", "`name` must be non-empty text", *self.at("", "name"), 'name = "ESG compute leaders"')
            name = stem
        description = data.get("description", "")
        if not isinstance(description, str):
            self.problem("bad-value", "`description` must be text", *self.at("", "description"))
            description = ""

        universes = self._universes(data)
        filters = self._filters(data.get("filters", {}))
        scores = self._scores(data.get("scores", {}))
        top = self._output(data.get("output", {}))
        if "filters" not in data and "scores" not in data and not self.problems:
            self.problem("empty-rule", "the rule has no [filters] and no [scores]: it would select nothing in particular", 1, 1,
                         "add a [filters] table (rated = \"esg_rating >= 'AA-'\") or a [scores] table")
        elif not filters and not scores and not self.problems:
            self.problem("empty-rule", "the rule's [filters] and [scores] are both empty", 1, 1,
                         "add at least one filter or score")
        if self.problems:
            return None
        return Screen(name=name.strip(), description=description.strip(), path=self.path, stem=stem, text=self.text,
                      universes=universes, filters=filters, scores=scores, top=top)

    def _universes(self, data: dict) -> tuple[str, ...]:
        if "universe" not in data:
            known = ", ".join(self.known or []) or "see `screener universes`"
            self.problem("missing-key", "the rule names no `universe`", 1, 1, f'add universe = ["esg_compute"] (known: {known})')
            return ()
        raw = data["universe"]
        line, col = self.at("", "universe")
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.problem("bad-value", "`universe` must be a universe name or a non-empty list of them", line, col,
                         'universe = ["esg_compute", "ai_compute"]')
            return ()
        if self.known is not None:
            for n in names:
                if n not in self.known:
                    ln, c = self._find_name(line, n, col)
                    known = ", ".join(f"`{k}`" for k in sorted(self.known)) or "none: the universes folder is empty"
                    near = suggestion(n, self.known, "universe")
                    hint = f"{near} known universes: {known}" if near.startswith("did") else f"known universes: {known}"
                    self.problem("unknown-universe", f"unknown universe `{n}`", ln, c, hint, len(n))
        return tuple(dict.fromkeys(names))

    def _find_name(self, line: int, needle: str, default: int) -> tuple[int, int]:
        """Line and column of the quoted name `needle` (its first letter) in the array that starts
        at `line`, `default` (on `line`) when not found.

        Searching for the quoted form keeps `"quant"` from matching inside `"quantum"`; an
        array written over several lines is searched up to its closing bracket.
        """
        ln, start = line, default - 1
        while True:
            src = self.toml.source_line(ln)
            if src is None:
                return line, default
            for quoted in (f'"{needle}"', f"'{needle}'"):
                i = src.find(quoted, start)
                if i >= 0:
                    return ln, i + 2
            is_array = ln > line or src[start:].startswith("[")
            if not is_array or "]" in src[start:] or ln - line > 100:
                return line, default
            ln, start = ln + 1, 0

    def _expression(self, source, table: str, key: str, subkey: str | None):
        line, col = self.at(table, key, subkey)
        if not isinstance(source, str):
            self.problem("bad-value", f"`{key}` must be an expression in quotes", line, col,
                         f"{key} = \"eps_fy1 > 0\"")
            return None
        try:
            return compile_expr(source)
        except ExprError as e:
            from screener.rules.tomlpos import Pos

            start = self.toml.string_content(Pos(line, col))
            p = self.toml.offset_to_file(start, source, e.start)
            width = max(1, min(e.end - e.start, 80)) if "\n" not in source[e.start:e.end] else 1
            self.problem(e.code, e.message, p.line, p.col, e.hint, width)
            return None

    def _good_name(self, name: str, table: str, what: str) -> bool:
        """Filter and score names appear in explain, exports and history: they must be words."""
        if name.strip() and not any(ch in name for ch in "\n\r\t"):
            return True
        line, col = self.at(table, name)
        self.problem("bad-name", f"a {what} needs a name", line, col,
                     f"write e.g. profitable = \"eps_fy1 > 0\" in [{table}]")
        return False

    def _filters(self, table) -> tuple[Filter, ...]:
        if not isinstance(table, dict):
            self.problem("bad-value", "`filters` must be a table of name = \"expression\"", *self.at("", "filters"),
                         "[filters]\nprofitable = \"eps_fy1 > 0\"")
            return ()
        out = []
        for name, source in table.items():
            if not self._good_name(name, "filters", "filter"):
                continue
            node = self._expression(source, "filters", name, None)
            if node is None:
                continue
            if node.kind.name != "BOOL":
                line, col = self.at("filters", name)
                self.problem("not-a-condition", f"filter `{name}` is {node.kind.value}, not a condition", line, col,
                             "a filter must be true or false, e.g. `eps_growth_fy1 > 0`")
                continue
            out.append(Filter(name, source, node))
        return tuple(out)

    def _scores(self, table) -> tuple[Score, ...]:
        if not isinstance(table, dict):
            self.problem("bad-value", "`scores` must be a table of name = { expr = ..., weight = ... }", *self.at("", "scores"))
            return ()
        out = []
        for name, spec in table.items():
            if not self._good_name(name, "scores", "score"):
                continue
            line, col = self.at("scores", name)
            if isinstance(spec, str):
                self.problem("bad-value", f"score `{name}` must be a table with `expr` and `weight`", line, col,
                             f'{name} = {{ expr = "{spec}", weight = 1 }}')
                continue
            if not isinstance(spec, dict):
                self.problem("bad-value", f"score `{name}` must be a table with `expr` and `weight`", line, col,
                             f'{name} = {{ expr = "eps_growth_fy1", weight = 1 }}')
                continue
            ok = True
            for k in spec:
                if k not in SCORE_KEYS:
                    pos = self.toml.key("scores", name, k)
                    self.problem("unknown-key", f"unknown key `{k}` in score `{name}`", pos.line, pos.col,
                                 suggestion(k, SCORE_KEYS, "key"))
                    ok = False
            if "expr" not in spec:
                self.problem("missing-key", f"score `{name}` has no `expr`", line, col,
                             f'{name} = {{ expr = "eps_growth_fy1", weight = 1 }}')
                continue
            node = self._expression(spec["expr"], "scores", name, "expr")
            weight = spec.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
                self.problem("bad-weight", f"weight of score `{name}` must be a positive number, got {weight!r}",
                             *self.at("scores", name, "weight"),
                             "weights are relative (they are scaled to sum to 1): use e.g. 0.5; to drop a score, delete its line")
                ok = False
            normalize = spec.get("normalize", "rank")
            if normalize not in NORMALIZERS:
                self.problem("bad-normalize", f"normalize of score `{name}` must be one of rank, zscore, minmax; got {normalize!r}",
                             *self.at("scores", name, "normalize"),
                             suggestion(str(normalize), NORMALIZERS, "normaliser") if isinstance(normalize, str) else "normalize = \"rank\"")
                ok = False
            hib = spec.get("higher_is_better", True)
            if not isinstance(hib, bool):
                self.problem("bad-value", f"higher_is_better of score `{name}` must be true or false", *self.at("scores", name, "higher_is_better"),
                             "higher_is_better = false")
                ok = False
            if node is not None and node.kind.name != "NUMBER":
                self.problem("not-a-number", f"score `{name}` is {node.kind.value}; a score needs a number",
                             *self.at("scores", name, "expr"),
                             "score numeric fields such as eps_growth_fy1 or esg_score (not esg_rating)")
                ok = False
            if node is not None and ok:
                out.append(Score(name, spec["expr"], node, float(weight), normalize, hib))
        return tuple(out)

    def _output(self, table) -> int | None:
        if not isinstance(table, dict):
            self.problem("bad-value", "`output` must be a table", *self.at("", "output"), "[output]\ntop = 10")
            return None
        for k in table:
            if k not in OUTPUT_KEYS:
                pos = self.toml.key("output", k)
                self.problem("unknown-key", f"unknown key `{k}` in [output]", pos.line, pos.col, suggestion(k, OUTPUT_KEYS, "key"))
        top = table.get("top")
        if top is None:
            return None
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            self.problem("bad-value", f"`top` must be a whole number of at least 1, got {top!r}", *self.at("output", "top"),
                         "top = 10, or delete the line to keep every passing security")
            return None
        return top
