"""Rule files: TOML text -> one immutable, checked `Screen`.

A `Screen` is named filters (conditions that must all hold) plus named weighted scores, over
one or more universes, with an optional top N, a buffer (`keep`), groups (`per`), extra output
columns, pins and expectations. Everything is checked here, before any data is read: TOML
syntax, keys, types, universes, every expression (names, types, grade and symbol literals),
score options, `[output]`, `[[pins]]` and `[[expect]]`. All problems in a file are collected,
each with file:line:col; `load_rule` raises `InputError` carrying them all.

Warnings (severity "warning", e.g. a pin whose `until` is before `today`) do not stop a rule from
loading: they ride on `Screen.warnings`, and on the `InputError` when the file also has errors.

Symbols written in a rule (a text compared with `symbol`, a pin's or an expectation's `symbol`)
are read as input files' symbols are (`screener.data.symbols.parse_symbol`: `603019.sh`,
`sh603019`, `1.603019` are all `603019.SH`) and carry the canonical spelling. Given the members
of the rule's universes (`universe_symbols`: every row of each universe file, whatever its
membership window), a symbol must be one of them, and a bare code (`000977`, `NVDA`, `brainco`)
resolves only when exactly one member reads that way; without them symbols are normalised but
not checked.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Mapping, Union

from screener.problems import InputError, Problem, did_you_mean, suggestion
from screener.rules.expr import ExprError, LiteralError, Node, compile_expr, referenced_fields
from screener.rules.fields import FIELDS, Kind
from screener.rules.tomlpos import Pos, TomlText, toml_error_position

NORMALIZERS = ("rank", "zscore", "minmax")
MISSING = ("worst", "mean", "drop")
PIN_ACTIONS = ("include", "exclude")
#: filter names the engine reports itself: an exclude pin is a failed filter called `pin`
RESERVED_FILTER_NAMES = ("pin",)
TOP_KEYS = ("name", "description", "universe", "filters", "scores", "output", "pins", "expect")
SCORE_KEYS = ("expr", "weight", "normalize", "higher_is_better", "within", "missing", "winsorize")
OUTPUT_KEYS = ("top", "keep", "per", "columns")
PIN_KEYS = ("symbol", "action", "reason", "until")
EXPECT_KEYS = ("as_of", "symbol", "in_watchlist", "rank_at_most")

#: the symbols of a universe, by name: a mapping, or a function that may raise `InputError`
#: (a universe file that cannot be read); None for a universe whose members are unknown
UniverseSymbols = Union[Mapping[str, Iterable[str]], Callable[[str], Union[Iterable[str], None]]]

_MISSING_ALIASES = {"avg": "mean", "average": "mean", "skip": "drop", "ignore": "drop", "exclude": "drop",
                    "zero": "worst", "min": "worst", "lowest": "worst"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    """One weighted component of the composite.

    `within`: a text field; each group of passers sharing its value (null is a group of its own)
    is normalised on its own. `missing`: what a missing value scores: "worst" (the default),
    "mean" (the mean of the present normalised values) or "drop" (left out, the security's other
    weights rescaled). `winsorize`: q with 0 <= q < 0.5; raw values are clipped to the q and 1 - q
    quantiles of the group's present values before normalising. The engine applies all three.
    """

    name: str
    source: str
    node: Node
    weight: float  # as written; `Screen.weights` gives them scaled to sum to 1
    normalize: str = "rank"
    higher_is_better: bool = True
    within: str | None = None
    missing: str = "worst"
    winsorize: float | None = None

    @property
    def fields(self) -> list[str]:
        """Fields the expression reads (not `within`: `Screen.fields()` adds it)."""
        return referenced_fields(self.node)


@dataclass(frozen=True)
class Pin:
    """`[[pins]]`: force a member in (`include`) or out (`exclude`), with a reason shown beside it.

    `symbol` is canonical and in the rule's universes (when they were known at check time);
    `until` is the last day the pin acts (None: no end); `line` is its `[[pins]]` header line.
    """

    symbol: str
    action: str  # "include" | "exclude"
    reason: str
    until: date | None
    line: int

    def active(self, as_of: date) -> bool:
        """Whether the pin acts in a run as of `as_of` (`as_of <= until`)."""
        return self.until is None or as_of <= self.until


@dataclass(frozen=True)
class Expect:
    """`[[expect]]`, run by `screener test`: as of `as_of`, `symbol` is (not) in the watchlist
    and/or has an overall rank of at most `rank_at_most`. `line` is its `[[expect]]` header line."""

    as_of: date
    symbol: str
    in_watchlist: bool | None
    rank_at_most: int | None
    line: int


@dataclass(frozen=True)
class Screen:
    """A checked rule file. Immutable: the engine only reads it.

    `keep` (>= `top`, only with `top`): a member of the previous watchlist stays while it ranks
    within `keep`. `per`: a text field; `top` and `keep` count within each of its groups.
    `columns`: extra fields shown in every output (duplicates removed, order kept). `pins` keeps
    every pin, expired ones too (a backtest at an earlier date uses them); `Pin.active` says
    whether one acts at a date. `warnings`: problems that did not stop the rule from loading.
    """

    name: str
    description: str
    path: str
    stem: str
    text: str
    universes: tuple[str, ...]
    filters: tuple[Filter, ...]
    scores: tuple[Score, ...]
    top: int | None
    keep: int | None = None
    per: str | None = None
    columns: tuple[str, ...] = ()
    pins: tuple[Pin, ...] = ()
    expects: tuple[Expect, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def weights(self) -> tuple[float, ...]:
        total = sum(s.weight for s in self.scores)
        return tuple(s.weight / total for s in self.scores)

    def fields(self) -> list[str]:
        """Fields the rule reads, in order of first use: filters, scores, the scores' `within`
        fields, `per`, then `columns`."""
        out: list[str] = []
        for part in (*self.filters, *self.scores):
            for f in part.fields:
                if f not in out:
                    out.append(f)
        for f in (*(s.within for s in self.scores), self.per, *self.columns):
            if f is not None and f not in out:
                out.append(f)
        return out


def load_rule(path: str | Path, known_universes: list[str] | None = None, display_path: str | None = None, *,
              universe_symbols: UniverseSymbols | None = None, today: date | None = None) -> Screen:
    """Read and check one rule file. Raises `InputError` with every problem found (see `parse_rule`)."""
    path = Path(path)
    shown = display_path or str(path)
    from screener import limits

    bad_name = _unencodable(str(path))
    if bad_name is not None:
        raise InputError([Problem("encoding", f"the rule file's name holds {bad_name}, which is not UTF-8 text", repr(str(path))[1:-1],
                                  hint="rename the file with a UTF-8 name (its stem names the rule's folder and history)")])
    try:
        bound = limits.active().rule_file_bytes
        # a BOM (Windows editors) is not part of the TOML; a FIFO, device or folder is never opened
        text = limits.read_text(path, shown, "rule file", bound, "rule_file_bytes")
    except FileNotFoundError:
        raise InputError([Problem("no-file", "rule file not found", shown,
                                  hint="check the path; `screener check` lists the rules in rules/")]) from None
    except UnicodeDecodeError as e:
        raise InputError([Problem("encoding", f"rule file is not UTF-8 text ({e.reason} at byte {e.start})", shown,
                                  hint="save the file as UTF-8")]) from None
    except OSError as e:
        raise InputError([Problem("unreadable", f"cannot read the rule file: {e.strerror}", shown)]) from None
    return parse_rule(text, shown, path.stem, known_universes, universe_symbols=universe_symbols, today=today)


def _unencodable(text: str) -> str | None:
    """The first character of `text` that UTF-8 cannot encode (a lone surrogate: from a file name
    that is not UTF-8, or a `\\ud800` escape) as `U+D800`, or None when it all encodes."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as e:
        return f"U+{ord(text[e.start]):04X}"


def parse_rule(text: str, path: str, stem: str, known_universes: list[str] | None = None, *,
               universe_symbols: UniverseSymbols | None = None, today: date | None = None) -> Screen:
    """Check rule text; raises `InputError` carrying every problem when there is an error.

    `known_universes=None` skips the universe-name check. `universe_symbols` gives the symbols of
    a universe by name (a mapping, or a function that may raise `InputError` for a universe file
    that cannot be read: its problems are reported here); None skips the check that the rule's
    symbols are members (they are still normalised). A pin whose `until` is before `today`
    (default: `date.today()`) is a warning on `Screen.warnings`, not an error.
    """
    checker = _RuleChecker(text, path, known_universes, universe_symbols, today or date.today())
    screen = checker.run(stem)
    if checker.failed:
        raise InputError(checker.problems)
    assert screen is not None
    return screen


class _RuleChecker:
    def __init__(self, text: str, path: str, known_universes: list[str] | None,
                 universe_symbols: UniverseSymbols | None = None, today: date | None = None):
        self.text = text
        self.path = path
        self.known = known_universes
        self.universe_symbols = universe_symbols
        self.today = today or date.today()
        self.toml = TomlText(text)
        self.problems: list[Problem] = []
        self.symbols = _SymbolReader((), None, None, self.problems)

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def problem(self, code: str, message: str, line: int | None, col: int | None, hint: str | None = None, width: int = 1,
                severity: str = "error"):
        src = self.toml.source_line(line) if line else None
        self.problems.append(Problem(code, message, self.path, line, col, hint, src, width, severity))

    def at(self, table: str, key: str, subkey: str | None = None, index: int | None = None):
        p = self.toml.value(table, key, subkey, index)
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

        from screener.limits import active, raise_hint

        parts = sum(len(data[k]) for k in ("filters", "scores") if isinstance(data.get(k), dict))
        bound = active().filters_and_scores
        if parts > bound:  # refused before any expression is compiled
            table = "filters" if self.toml.has_table("filters") else "scores"
            line = self.toml.table_line(table) if self.toml.has_table(table) else 1
            self.problem("limit", f"the rule has {parts:,} filters and scores together, more than the limit of {bound:,}",
                         line, 1, "split it into several rules; or, " + raise_hint("filters_and_scores", bound).removeprefix("if the file is right, "))
            return None

        universes = self._universes(data)
        unknown = self.known is not None and any(u not in self.known for u in universes)
        self.symbols = _SymbolReader(universes, self.known, None if unknown else self.universe_symbols, self.problems)
        filters = self._filters(data.get("filters", {}))
        scores = self._scores(data.get("scores", {}))
        top, keep, per, columns = self._output(data.get("output", {}))
        pins = self._pins(data.get("pins"))
        expects = self._expects(data.get("expect"))
        if "filters" not in data and "scores" not in data and not self.failed:
            self.problem("empty-rule", "the rule has no [filters] and no [scores]: it would select nothing in particular", 1, 1,
                         "add a [filters] table (rated = \"esg_rating >= 'AA-'\") or a [scores] table")
        elif not filters and not scores and not self.failed:
            self.problem("empty-rule", "the rule's [filters] and [scores] are both empty", 1, 1,
                         "add at least one filter or score")
        if self.failed:
            return None
        return Screen(name=name.strip(), description=description.strip(), path=self.path, stem=stem, text=self.text,
                      universes=universes, filters=filters, scores=scores, top=top, keep=keep, per=per, columns=columns,
                      pins=pins, expects=expects, warnings=tuple(self.problems))

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
            return compile_expr(source, symbols=self.symbols.resolve)
        except ExprError as e:
            start = self.toml.string_content(Pos(line, col))
            p = self.toml.offset_to_file(start, e.start)
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
            reserved = name in RESERVED_FILTER_NAMES
            if reserved:
                pos = self.toml.key("filters", name)
                self.problem("reserved-name", f"`{name}` is a reserved filter name: an exclude pin shows as the failed filter `pin`",
                             pos.line, pos.col, f"rename the filter, e.g. `{name}_check`", len(name))
            node = self._expression(source, "filters", name, None)
            if reserved:
                continue
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
            within = None
            if "within" in spec:
                within = self._text_field(spec["within"], f"`within` of score `{name}`", *self.at("scores", name, "within"))
                ok = ok and within is not None
            missing = spec.get("missing", "worst")
            if missing not in MISSING:
                near = _MISSING_ALIASES.get(missing) if isinstance(missing, str) else None
                hint = (f"did you mean `{near}`?" if near else suggestion(missing, MISSING, "missing")) if isinstance(missing, str) \
                    else 'missing = "worst" (the default), "mean" or "drop"'
                self.problem("bad-missing", f"missing of score `{name}` must be one of {', '.join(MISSING)}; got {missing!r}",
                             *self.at("scores", name, "missing"), hint, _width(missing))
                ok = False
            winsorize = spec.get("winsorize")
            if winsorize is not None:
                number = not isinstance(winsorize, bool) and isinstance(winsorize, (int, float)) and math.isfinite(winsorize)
                if not number or not 0 <= winsorize < 0.5:
                    hint = "winsorize = 0.05 clips raw values to their 5% and 95% quantiles first; delete it to keep them as they are"
                    if number and winsorize >= 0.5:
                        hint = "0.5 or more would clip every value to the median; " + hint
                    self.problem("bad-winsorize", f"winsorize of score `{name}` must be a number q with 0 <= q < 0.5, got {winsorize!r}",
                                 *self.at("scores", name, "winsorize"), hint)
                    ok = False
            if node is not None and ok:
                out.append(Score(name, spec["expr"], node, float(weight), normalize, hib, within, missing,
                                 None if winsorize is None else float(winsorize)))
        return tuple(out)

    def _text_field(self, value, where: str, line: int, col: int) -> str | None:
        """`value` when it names a text field (what `within` and `per` group by), else None with a problem."""
        text_fields = sorted(n for n, f in FIELDS.items() if f.kind is Kind.TEXT)
        listing = "text fields: " + ", ".join(f"`{n}`" for n in text_fields)
        if not isinstance(value, str):
            self.problem("bad-value", f"{where} must be a field name in quotes, got {value!r}", line, col, listing)
            return None
        if value not in FIELDS:
            self.problem("unknown-field", f"unknown field `{value}` in {where}", line, col,
                         suggestion(value, FIELDS, "field"), len(value) + 2)
            return None
        kind = FIELDS[value].kind
        if kind is not Kind.TEXT:
            self.problem("not-a-text-field", f"{where} must be a text field; `{value}` is {_ARTICLE[kind]}", line, col,
                         listing, len(value) + 2)
            return None
        return value

    def _output(self, table) -> tuple[int | None, int | None, str | None, tuple[str, ...]]:
        """`[output]`: (top, keep, per, columns)."""
        if not isinstance(table, dict):
            self.problem("bad-value", "`output` must be a table", *self.at("", "output"), "[output]\ntop = 10")
            return None, None, None, ()
        for k in table:
            if k not in OUTPUT_KEYS:
                pos = self.toml.key("output", k)
                self.problem("unknown-key", f"unknown key `{k}` in [output]", pos.line, pos.col, suggestion(k, OUTPUT_KEYS, "key"))
        top = table.get("top")
        top_ok = top is None or (not isinstance(top, bool) and isinstance(top, int) and top >= 1)
        if not top_ok:
            self.problem("bad-value", f"`top` must be a whole number of at least 1, got {top!r}", *self.at("output", "top"),
                         "top = 10, or delete the line to keep every passing security")
            top = None
        keep = self._keep(table, top, top_ok)
        per = self._text_field(table["per"], "`per`", *self.at("output", "per")) if "per" in table else None
        return top, keep, per, self._columns(table.get("columns"))

    def _keep(self, table: dict, top: int | None, top_ok: bool) -> int | None:
        if "keep" not in table:
            return None
        keep = table["keep"]
        why = "keep is how far a member of the previous watchlist may fall and stay: e.g. top = 10, keep = 15"
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            self.problem("bad-value", f"`keep` must be a whole number of at least 1, got {keep!r}", *self.at("output", "keep"), why)
            return None
        if not top_ok:
            return None  # `top` is wrong already; comparing with it would say nothing new
        if top is None:
            pos = self.toml.key("output", "keep")
            self.problem("keep-without-top", "`keep` needs `top` in [output]: it buffers a top N", pos.line, pos.col,
                         f"add top = {max(1, keep * 2 // 3)} (keep, at least top, is how far a member of the previous "
                         "watchlist may fall and stay), or delete keep", 4)
            return None
        if keep < top:
            self.problem("keep-below-top", f"`keep` ({keep}) must be at least `top` ({top})", *self.at("output", "keep"),
                         why.replace("top = 10, keep = 15", f"top = {top}, keep = {top + max(1, top // 2)}"))
            return None
        return keep

    def _columns(self, raw) -> tuple[str, ...]:
        if raw is None:
            return ()
        line, col = self.at("output", "columns")
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            self.problem("bad-value", "`columns` must be a list of field names", line, col, 'columns = ["revenue_fy1", "market_cap"]')
            return ()
        for name in raw:
            if name not in FIELDS:
                ln, c = self._find_name(line, name, col)
                self.problem("unknown-field", f"unknown field `{name}` in `columns`", ln, c, suggestion(name, FIELDS, "field"),
                             max(1, len(name)))
        return tuple(dict.fromkeys(c for c in raw if c in FIELDS))

    # -- [[pins]] and [[expect]] -------------------------------------------------------------
    def _tables_of(self, raw, key: str, what: str, example: str) -> list[dict]:
        """The tables of `[[key]]` (or `key = [{...}, ...]`); [] with a problem for anything else."""
        if raw is None:
            return []
        if isinstance(raw, list) and all(isinstance(t, dict) for t in raw):
            return raw
        line = self.toml.table_line(key) if self.toml.has_table(key) else self.toml.key("", key).line
        self.problem("bad-value", f"`{key}` must be [[{key}]] tables, one per {what}", line, 1, example)
        return []

    def _unknown_keys(self, table: dict, key: str, index: int, allowed: tuple[str, ...]) -> None:
        for k in table:
            if k not in allowed:
                pos = self.toml.key(key, k, index=index)
                self.problem("unknown-key", f"unknown key `{k}` in [[{key}]]", pos.line, pos.col, suggestion(k, allowed, "key"))

    def _symbol_of(self, table: dict, key: str, index: int, owner: str, head: int) -> str | None:
        """The table's `symbol`, canonical and checked, or None with a problem."""
        raw = table.get("symbol")
        if raw is None:
            self.problem("missing-key", f"the {owner} has no `symbol`", head, 1, 'symbol = "603019.SH"')
            return None
        line, col = self.at(key, "symbol", index=index)
        if not isinstance(raw, str):
            self.problem("bad-value", f"`symbol` must be text in quotes, got {raw!r}", line, col, 'symbol = "603019.SH"')
            return None
        try:
            return self.symbols.resolve(raw)
        except LiteralError as e:
            self.problem(e.code, e.message, line, col, e.hint, len(raw) + 2)
            return None

    def _date_of(self, value, key: str, owner: str, line: int, col: int, example: str):
        """A TOML date or "YYYY-MM-DD" text as a date; None with a problem otherwise."""
        from screener.limits import DATE_RANGE

        day = None
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                pass
        if day is not None and DATE_RANGE[0] <= day <= DATE_RANGE[1]:
            return day
        if day is not None:
            self.problem("bad-date", f"`{key}` of the {owner} is {day.isoformat()}, outside the dates screener works with "
                         f"({DATE_RANGE[0].isoformat()} to {DATE_RANGE[1].isoformat()})", line, col,
                         f"{key} = {example}")
            return None
        extra = " (a date, without a time)" if isinstance(value, datetime) else ""
        self.problem("bad-date", f"`{key}` of the {owner} must be a date such as {example}{extra}, got {value!r}",
                     line, col, f"{key} = {example} (or \"{example}\")")
        return None

    def _pins(self, raw) -> tuple[Pin, ...]:
        tables = self._tables_of(raw, "pins", "pinned security",
                                 '[[pins]]\nsymbol = "603019.SH"\naction = "include"\nreason = "core position"')
        out: list[Pin] = []
        first_line: dict[str, int] = {}
        for i, t in enumerate(tables):
            head = self.toml.array_table_line("pins", i)
            self._unknown_keys(t, "pins", i, PIN_KEYS)
            symbol = self._symbol_of(t, "pins", i, "pin", head)
            owner = f"pin on {symbol}" if symbol else "pin"
            ok = symbol is not None
            action = t.get("action")
            if action is None:
                self.problem("missing-key", f"the {owner} has no `action`", head, 1, 'action = "include" (or "exclude")')
                ok = False
            elif action not in PIN_ACTIONS:
                hint = suggestion(action, PIN_ACTIONS, "action") if isinstance(action, str) else 'action = "include" (or "exclude")'
                self.problem("bad-action", f"`action` of the {owner} must be \"include\" or \"exclude\", got {action!r}",
                             *self.at("pins", "action", index=i), hint, _width(action))
                ok = False
            reason = t.get("reason")
            if reason is None:
                self.problem("missing-key", f"the {owner} has no `reason`", head, 1,
                             'reason = "core position; review after the annual report" (shown beside it in every output)')
                ok = False
            elif not isinstance(reason, str) or not reason.strip():
                self.problem("bad-value", f"`reason` of the {owner} must be non-empty text", *self.at("pins", "reason", index=i),
                             'reason = "core position; review after the annual report"')
                ok = False
            until = None
            if "until" in t:
                line, col = self.at("pins", "until", index=i)
                until = self._date_of(t["until"], "until", owner, line, col, "2027-03-31")
                if until is None:
                    ok = False
                elif symbol and until < self.today:
                    self.problem("expired-pin", f"the {owner} expired on {until.isoformat()} and is ignored", line, col,
                                 "delete the pin, or move `until` later", severity="warning")
            if symbol in first_line:
                self.problem("duplicate-pin", f"a second pin on {symbol} (the first is on line {first_line[symbol]})",
                             *self.at("pins", "symbol", index=i), "keep one pin per security", len(str(t["symbol"])) + 2)
                ok = False
            elif symbol:
                first_line[symbol] = head
            if ok:
                out.append(Pin(symbol, action, reason.strip(), until, head))
        return tuple(out)

    def _expects(self, raw) -> tuple[Expect, ...]:
        tables = self._tables_of(raw, "expect", "expectation",
                                 '[[expect]]\nas_of = 2026-11-20\nsymbol = "000977.SZ"\nin_watchlist = true')
        out: list[Expect] = []
        for i, t in enumerate(tables):
            head = self.toml.array_table_line("expect", i)
            self._unknown_keys(t, "expect", i, EXPECT_KEYS)
            symbol = self._symbol_of(t, "expect", i, "expectation", head)
            owner = f"expectation on {symbol}" if symbol else "expectation"
            ok = symbol is not None
            as_of = None
            if "as_of" not in t:
                self.problem("missing-key", f"the {owner} has no `as_of`", head, 1,
                             "as_of = 2026-11-20, the date `screener test` screens as of")
                ok = False
            else:
                as_of = self._date_of(t["as_of"], "as_of", owner, *self.at("expect", "as_of", index=i), "2026-11-20")
                ok = ok and as_of is not None
            in_watchlist, rank = t.get("in_watchlist"), t.get("rank_at_most")
            if in_watchlist is None and rank is None:
                self.problem("missing-key", f"the {owner} needs `in_watchlist` and/or `rank_at_most`", head, 1,
                             "in_watchlist = true (or false), rank_at_most = 5, or both")
                ok = False
            if in_watchlist is not None and not isinstance(in_watchlist, bool):
                self.problem("bad-value", f"`in_watchlist` must be true or false, got {in_watchlist!r}",
                             *self.at("expect", "in_watchlist", index=i), "in_watchlist = true")
                ok = False
            if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
                self.problem("bad-value", f"`rank_at_most` must be a whole number of at least 1, got {rank!r}",
                             *self.at("expect", "rank_at_most", index=i), "rank_at_most = 5 (rank 1 is the best)")
                ok = False
            if ok:
                out.append(Expect(as_of, symbol, in_watchlist, rank, head))
        return tuple(out)


def _width(value) -> int:
    """Caret width under a value as TOML writes it: a plain string with its quotes."""
    return len(value) + 2 if isinstance(value, str) and "\n" not in value else 1


_ARTICLE = {Kind.NUMBER: "a number", Kind.TEXT: "text", Kind.BOOL: "a condition (true/false)",
            Kind.GRADE: "an ESG grade", Kind.TEXT_LIST: "a list of text"}


class _SymbolReader:
    """Reads the symbols a rule writes, as input files' symbols are read, against the members of
    the rule's universes (loaded on first use, so a rule that names no symbol reads no file)."""

    def __init__(self, universes: tuple[str, ...], known: list[str] | None, source: UniverseSymbols | None,
                 problems: list[Problem]):
        self.universes = universes
        self.known = known
        self.source = source
        self.problems = problems  # a universe file's own problems go here
        self._cache: dict[str, frozenset[str] | None] = {}
        self._members: frozenset[str] | None | bool = False  # False: not loaded yet

    def _of(self, name: str, quiet: bool = False) -> frozenset[str] | None:
        if name not in self._cache:
            got = None
            if self.source is not None:
                try:
                    got = self.source.get(name) if isinstance(self.source, Mapping) else self.source(name)
                except InputError as e:
                    if quiet:
                        return None
                    self.problems.extend(e.problems)
            self._cache[name] = None if got is None else frozenset(got)
        return self._cache[name]

    @property
    def members(self) -> frozenset[str] | None:
        """Every symbol of the rule's universes; None when any of them is unknown."""
        if self._members is False:
            sets = [self._of(u) for u in self.universes]
            self._members = None if not sets or any(m is None for m in sets) else frozenset().union(*sets)
        return self._members

    def resolve(self, text: str) -> str:
        """The canonical symbol `text` names; raises `LiteralError` when it names none, or a
        symbol outside the rule's universes, or (a bare code) several of their members."""
        from screener.data.symbols import MARKETS, SymbolError, parse_symbol

        default, error, readings = None, None, set()
        for hint in (None, *MARKETS):
            try:
                canonical = parse_symbol(text, hint).canonical()
            except SymbolError as e:
                error = error or e
                continue
            readings.add(canonical)
            default = default or (canonical if hint is None else None)
        members = self.members
        if members is None:
            if default is None:
                assert error is not None
                raise LiteralError("bad-symbol", f"'{text}' is not a symbol: {error.reason}", error.hint)
            return default
        hits = sorted(readings & members)
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise LiteralError("ambiguous-symbol", f"'{text}' could be {' or '.join(hits)}, all in the rule's universes",
                               f"write the market: '{hits[0]}'")
        unreadable = f"{error.reason}; " if not readings and error is not None else ""
        raise LiteralError("unknown-symbol", f"'{text}' is in none of the rule's universes ({', '.join(self.universes)})",
                           unreadable + self._hint(text, default, readings, members))

    def _hint(self, text: str, default: str | None, readings: set[str], members: frozenset[str]) -> str:
        """Where the symbol is instead (another known universe), the nearest member, or the members."""
        elsewhere = [u for u in sorted(self.known or ()) if u not in self.universes
                     and readings & (self._of(u, quiet=True) or frozenset())]
        if elsewhere:
            names = ", ".join(f"`{u}`" for u in elsewhere)
            return f"it is in {names}, which the rule does not screen: add it to `universe`, or check the symbol"
        near = did_you_mean(default or text.upper(), members)
        if near:
            return f"did you mean `{near}`?"
        if len(members) <= 30:
            return suggestion(default or text, members, "symbol")
        return f"`screener universes {self.universes[0]}` lists the members"
