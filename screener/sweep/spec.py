"""`--set KEY=V1,V2,...` to variants (DESIGN.md "Sweeps").

- `KEY` is a dotted path into the rule file: `name`, `description`, `universe`, `filters.<name>`
  (an existing filter), `scores.<name>` or `scores.<name>.<key>` (an existing score; keys as in
  the rule grammar), `output.<key>`. Anything else is refused with a did-you-mean over those keys.
- The value list splits at commas outside quotes, brackets, braces and parentheses; each item is
  read as a TOML value (`'x in (1, 2)'` is one string, `[1, 2]` one array).
- Variants are the cartesian product, the first `--set` varying slowest. Each variant is the rule's
  parsed TOML with the values applied, written out as TOML (`variant_text`) and checked by the rule
  loader exactly like a rule file before anything runs.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time

from screener.problems import InputError, Problem, suggestion

#: more variants than this need --yes (`screener sweep --max-variants` changes it)
MAX_VARIANTS = 200

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_PAIRS = {"[": "]", "{": "}", "(": ")"}


@dataclass(frozen=True)
class Setting:
    """One `--set`: the key as written, its path, and the values in order."""

    key: str
    path: tuple[str, ...]
    values: tuple
    option: str  # the option as the user wrote it, for messages


@dataclass(frozen=True)
class Variant:
    """One point of the product: index (0-based, in product order), the values by key, the
    variant's rule text."""

    index: int
    values: dict
    text: str

    def label(self) -> str:
        return ", ".join(f"{k}={shown(v)}" for k, v in self.values.items())


def shown(value) -> str:
    """A value as TOML writes it (what the user would type after `=`)."""
    return toml_value(value)


def split_values(text: str) -> list[str]:
    """Split at commas outside quotes and brackets; blanks around items dropped."""
    items, buf, stack, quote = [], [], [], None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            buf.append(ch)
        elif ch in _PAIRS:
            stack.append(_PAIRS[ch])
            buf.append(ch)
        elif stack and ch == stack[-1]:
            stack.pop()
            buf.append(ch)
        elif ch == "," and not stack:
            items.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    items.append("".join(buf).strip())
    return items


def read_value(item: str):
    """One item as a TOML value; `ValueError` with TOML's words when it is not one."""
    try:
        return tomllib.loads(f"v = {item}\n")["v"]
    except tomllib.TOMLDecodeError as e:
        raise ValueError(str(e)) from None


def rule_keys(doc: dict) -> list[str]:
    """The dotted keys a --set may name for this rule."""
    from screener.rules.rule import OUTPUT_KEYS, SCORE_KEYS

    keys = ["name", "description", "universe"]
    filters = doc.get("filters") if isinstance(doc.get("filters"), dict) else {}
    keys += [f"filters.{name}" for name in filters]
    scores = doc.get("scores") if isinstance(doc.get("scores"), dict) else {}
    for name in scores:
        keys.append(f"scores.{name}")
        keys += [f"scores.{name}.{k}" for k in SCORE_KEYS]
    keys += [f"output.{k}" for k in OUTPUT_KEYS]
    return keys


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(p if _BARE.match(p) else json.dumps(p, ensure_ascii=False) for p in path)


def parse_key(key: str) -> tuple[str, ...]:
    """`scores.growth.weight` → its path; a quoted part (`filters."a b"`) is one part."""
    try:
        parsed = tomllib.loads(f"{key} = 0\n")
    except tomllib.TOMLDecodeError:
        raise ValueError(key) from None
    path = []
    node = parsed
    while isinstance(node, dict):
        (name, node), = node.items()
        path.append(name)
    return tuple(path)


def parse_settings(options: list[str] | tuple[str, ...], doc: dict) -> list[Setting]:
    """Every `--set` checked against the rule's keys; one `InputError` naming each bad one."""
    problems, out, seen = [], [], set()
    keys = rule_keys(doc)
    for option in options:
        where = f"--set {option}"
        key, sep, raw = option.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem("bad-option", "--set needs KEY=V1,V2,...", where,
                                    hint="e.g. --set scores.growth.weight=0.2,0.4,0.6"))
            continue
        try:
            path = parse_key(key)
        except ValueError:
            problems.append(Problem("bad-option", f"`{key}` is not a dotted key", where,
                                    hint="e.g. scores.growth.weight; quote a part with spaces: filters.\"my filter\""))
            continue
        dotted = _dotted(path)
        if dotted not in keys:
            problems.append(Problem("unknown-key", f"`{dotted}` is not a key of this rule", where,
                                    hint=suggestion(dotted, keys, "key")))
            continue
        if dotted in seen:
            problems.append(Problem("bad-option", f"`{dotted}` is set twice", where, hint="give one --set per key"))
            continue
        seen.add(dotted)
        values = []
        for item in split_values(raw):
            if not item:
                problems.append(Problem("bad-value", f"an empty value in the list for `{dotted}`", where,
                                        hint="separate values with single commas: --set output.top=10,20"))
                continue
            try:
                values.append(read_value(item))
            except ValueError as e:
                hint = ("text needs quotes: --set filters.rated=\"'esg_rating >= ''A'''\"" if path[0] == "filters"
                        else "text needs quotes, e.g. 'zscore'; numbers, true/false and [arrays] as in TOML")
                problems.append(Problem("bad-value", f"`{item}` is not a TOML value ({e})", where, hint=hint))
        if values:
            out.append(Setting(dotted, path, tuple(values), option))
    if not options:
        problems.append(Problem("bad-option", "a sweep needs at least one --set KEY=V1,V2,...",
                                hint="e.g. --set scores.growth.weight=0.2,0.4,0.6"))
    if problems:
        raise InputError(problems)
    return out


def apply(doc: dict, values: dict[tuple[str, ...], object]) -> dict:
    """A deep copy of `doc` with each path set to its value (tables created where missing)."""
    out = copy.deepcopy(doc)
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = copy.deepcopy(value)
    return out


def count_variants(settings: list[Setting]) -> int:
    return math.prod(len(s.values) for s in settings)


def build_variants(doc: dict, settings: list[Setting]) -> list[Variant]:
    """The cartesian product, the first setting varying slowest."""
    out = []
    for i, combo in enumerate(itertools.product(*(s.values for s in settings))):
        values = {s.key: v for s, v in zip(settings, combo)}
        text = toml_text(apply(doc, {s.path: v for s, v in zip(settings, combo)}))
        out.append(Variant(i, values, text))
    return out


# -- a small TOML writer: what tomllib reads back as the same document ----------------------------

def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"not a TOML value: {value!r}")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def toml_text(doc: dict) -> str:
    """`doc` as TOML text: top-level values, then one `[table]` per table (values inside as
    `key = value`, nested tables inline), then `[[array]]` tables."""
    lines = []
    for k, v in doc.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{_key(k)} = {toml_value(v)}")
    for k, v in doc.items():
        if isinstance(v, dict):
            lines += ["", f"[{_key(k)}]"]
            lines += [f"{_key(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    for k, v in doc.items():
        if _is_table_array(v):
            for item in v:
                lines += ["", f"[[{_key(k)}]]"]
                lines += [f"{_key(kk)} = {toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def jsonable(value):
    """A TOML value for JSON: dates as ISO text."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
