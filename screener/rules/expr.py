"""The rule expression language: parse, resolve names, check types, build a typed tree.

Python's `ast.parse(..., mode="eval")` is used purely as a parser: it builds a tree and runs
nothing. A deny-by-default walk accepts only the node types below and turns them into our own
immutable nodes (`Lit`, `Ref`, `Unary`, `Binary`, `Compare`, `BoolOp`, `InList`, `InField`,
`Call`); anything else is an error with its position. Nothing here imports polars: turning the
tree into polars expressions is `screener.engine.polars_backend`'s job.

Grammar (informally): numbers, 'strings', true/false, field names, `+ - * /`, comparisons
(chains such as `0 < x < 1` allowed), `and or not`, `x in (...)`, `x not in (...)`,
`'quantum' in themes`, and the functions in `FUNCTIONS`.

Literals are checked against what they are compared with: a text compared with an ESG grade
must be a grade on the scale, optionally with a known rater suffix (`'AA-pi'`; `'AA-x'` is an
error); a text compared with a closed-value field (`exposure`, `market`) must be one of its
values; a text compared with `symbol` (`symbol == '603019.sh'`, `symbol not in ('000977',)`) is
handed to the caller's `symbols` resolver, which returns the canonical spelling the node then
carries (so the engine compares the right thing) or raises `LiteralError`. Without a resolver the
literal stays as written.

Null semantics (documented for users): arithmetic and comparisons with a null give null;
`not null` is null; a filter whose result is null is false. `x / 0` is null. `and`/`or` follow
Kleene logic (`false and null` is false, `true or null` is true).
"""

from __future__ import annotations

import ast
import math
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Callable

from screener.rules.fields import FIELDS, Kind
from screener.rules.grades import GRADES_HIGH_TO_LOW, RATER_SUFFIXES, grade_literals, parse_grade_literal
from screener.limits import active, raise_hint
from screener.problems import did_you_mean, suggestion

#: the default length limit of one expression; `[limits] expression_chars` in config.toml sets it
MAX_SOURCE_CHARS = 20_000
MAX_DEPTH = 100
#: fields whose text literals are security symbols, read by the `symbols` resolver
SYMBOL_FIELDS = ("symbol",)


@dataclass(frozen=True)
class Span:
    """Character offsets [start, end) inside the expression's source text."""

    start: int
    end: int


@dataclass(frozen=True)
class Node:
    kind: Kind
    span: Span


@dataclass(frozen=True)
class Lit(Node):
    value: object


@dataclass(frozen=True)
class Ref(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "neg" | "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # "+" "-" "*" "/"
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # "==" "!=" "<" "<=" ">" ">="
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class InList(Node):
    needle: Node
    items: tuple[Lit, ...]
    negated: bool


@dataclass(frozen=True)
class InField(Node):
    """`'quantum' in themes`: membership of a text in a list-of-text field."""

    needle: Node
    field: Ref
    negated: bool


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class FunctionDoc:
    signature: str
    doc: str
    example: str


FUNCTIONS: dict[str, FunctionDoc] = {
    "between": FunctionDoc("between(x, lo, hi)", "true when lo <= x <= hi (inclusive); null when x is null", "between(pe_fy1, 10, 40)"),
    "abs": FunctionDoc("abs(x)", "absolute value", "abs(revision_1m) < 0.05"),
    "log": FunctionDoc("log(x)", "natural logarithm; null when x <= 0", "log(market_cap)"),
    "min": FunctionDoc("min(a, b, ...)", "smallest of its arguments; null when any is null", "min(pe_fy1, pe_fy2) < 30"),
    "max": FunctionDoc("max(a, b, ...)", "largest of its arguments; null when any is null", "max(eps_growth_fy1, eps_growth_fy2)"),
    "coalesce": FunctionDoc("coalesce(a, b, ...)", "the first argument that is not null", "coalesce(revision_3m, 0)"),
    "is_null": FunctionDoc("is_null(x)", "true when x is missing; never null itself", "not is_null(esg_rating)"),
}

_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_ORDERED = (Kind.NUMBER, Kind.GRADE)


@dataclass(frozen=True)
class ExprError(Exception):
    """A problem at character offsets [start, end) of the expression source."""

    code: str
    message: str
    start: int
    end: int
    hint: str | None = None

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return f"{self.code} at {self.start}: {self.message}"


class LiteralError(Exception):
    """Raised by a literal resolver (`compile_expr(symbols=...)`): the literal is wrong.

    The checker turns it into an `ExprError` spanning the literal.
    """

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def compile_expr(source: str, fields: dict | None = None, symbols: Callable[[str], str] | None = None,
                 max_chars: int | None = None) -> Node:
    """Parse and type-check one expression; raises `ExprError` on the first problem.

    Multi-line sources (TOML multi-line strings) are accepted: newlines count as spaces,
    so every offset in an error is an offset into `source` itself.

    `symbols`, when given, reads each text literal compared with a field of `SYMBOL_FIELDS`
    (after the types are checked) and returns its canonical spelling, or raises `LiteralError`;
    the node keeps the returned spelling.
    """
    fields = FIELDS if fields is None else fields
    if not source.strip():
        raise ExprError("empty-expression", "the expression is empty", 0, max(1, len(source)),
                        "write a condition such as `eps_fy1 > 0`")
    bound = active().expression_chars if max_chars is None else max_chars
    if len(source) > bound:
        raise ExprError("too-long", f"the expression is {len(source):,} characters long, more than the limit of {bound:,}",
                        0, 1, "split it into several filters; or, " + raise_hint("expression_chars", bound).removeprefix(
                            "if the file is right, "))
    flat = source.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    _check_ascii_lookalikes(flat)
    if "#" in _outside_strings(flat):
        i = _outside_strings(flat).index("#")
        raise ExprError("syntax", "`#` is not part of the rule language", i, i + 1,
                        "comments belong on their own TOML line, outside the string")
    # Python rejects leading blanks ("unexpected indent"), which multi-line TOML strings and
    # `"  x > 0"` naturally have: parse without them and shift every offset back by `lead`.
    body = flat.lstrip(" ")
    lead = len(flat) - len(body)
    try:
        with warnings.catch_warnings():  # `'\d'` would print a Python DeprecationWarning to stderr
            warnings.simplefilter("ignore")
            tree = ast.parse(body, mode="eval")
    except SyntaxError as e:
        raise _syntax_error(e, body, lead) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError("too-complex", "the expression is too deeply nested to read", 0, 1,
                        "simplify it or split it into several filters") from None
    try:
        return _Checker(body, fields, lead, symbols).visit(tree.body, 0)
    except RecursionError:
        raise ExprError("too-complex", "the expression is too deeply nested to check", 0, 1,
                        "simplify it or split it into several filters") from None


#: typographic quotes an input method or word processor puts in for ' and "
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u3001": ",", "\u3002": "."}


def _ascii_form(ch: str) -> str | None:
    """The ASCII character a look-alike stands for: full-width forms (`ｅ`, `，`, `（`) by NFKC,
    typographic quotes by table; None when `ch` is not a look-alike of ASCII."""
    if ch in _QUOTES:
        return _QUOTES[ch]
    norm = unicodedata.normalize("NFKC", ch)
    return norm if norm != ch and norm.isascii() and norm.strip() else None


def _check_ascii_lookalikes(flat: str) -> None:
    """Full-width letters, digits and punctuation (`ｅｐｓ_fy1`, `，`, `（`) and typographic quotes
    (`‘`) outside quoted text are errors with the expression in ASCII as the did-you-mean:
    Python would read full-width letters as ASCII without a word, or stop at the punctuation."""
    outside = _outside_strings(flat)
    first = next((i for i, ch in enumerate(outside) if not ch.isascii() and _ascii_form(ch) is not None), None)
    if first is None:
        return
    end = first
    while end < len(outside) and not outside[end].isascii() and _ascii_form(outside[end]) is not None:
        end += 1
    # the whole expression with every look-alike outside quotes replaced; quoted text kept as written
    fixed, quote, typographic = [], None, False
    for ch in flat:
        if quote is not None:  # inside quotes only the closing quote changes: `‘x’` -> `'x'`
            closes = ch == quote or (typographic and _QUOTES.get(ch) == quote)
            out = quote if closes else ch
            quote = None if closes else quote
        else:
            form = _ascii_form(ch)
            out = form if form is not None else ch
            quote, typographic = (out, form is not None) if out in "'\"" else (None, False)
        fixed.append(out)
    shown = flat[first:end]
    raise ExprError("full-width", f"`{shown}` is written in full-width or typographic characters "
                    f"({', '.join(f'U+{ord(c):04X}' for c in dict.fromkeys(shown))}); the rule language is ASCII outside quotes",
                    first, end, f"did you mean `{''.join(fixed).strip()}`? (switch the input method to half-width)")


def referenced_fields(node: Node) -> list[str]:
    """Field names the expression reads, in first-use order."""
    seen: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            if n.name not in seen:
                seen.append(n.name)
        for child in _children(n):
            walk(child)

    walk(node)
    return seen


def _children(n: Node) -> tuple[Node, ...]:
    if isinstance(n, Unary):
        return (n.operand,)
    if isinstance(n, (Binary, Compare)):
        return (n.left, n.right)
    if isinstance(n, BoolOp):
        return n.operands
    if isinstance(n, InList):
        return (n.needle, *n.items)
    if isinstance(n, InField):
        return (n.needle, n.field)
    if isinstance(n, Call):
        return n.args
    return ()


def _outside_strings(text: str) -> str:
    """`text` with the contents of quoted strings blanked, same length."""
    out, quote, escaped = [], None, False
    for ch in text:
        if quote:
            out.append(" ")
            if escaped:
                escaped = False
            elif ch == "\\":  # `'it\'s'`: an escaped quote does not end the string
                escaped = True
            elif ch == quote:
                quote = None
        else:
            if ch in "'\"":
                quote = ch
            out.append(ch)
    return "".join(out)


def _syntax_error(e: SyntaxError, src: str, lead: int = 0) -> ExprError:
    """`src` is the source without its `lead` leading blanks; offsets returned include them."""
    at_end = not e.offset or (e.lineno or 1) > 1  # CPython reports offset 0 for "ran out of input"
    offset = (e.offset or 1) - 1
    end = (e.end_offset or (offset + 2)) - 1
    if at_end:
        offset = end = len(src.rstrip())
    offset = max(0, min(offset, len(src)))
    end = max(offset + 1, min(end, len(src) + 1))
    offset, end = offset + lead, end + lead
    msg = (e.msg or "invalid syntax").replace("Perhaps you forgot a comma?", "").strip().rstrip(".")
    if at_end and msg == "invalid syntax":
        msg = "the expression ends too early"
    hint = None
    if "'=' " in src or "=" in _outside_strings(src).replace("==", "").replace("<=", "").replace(">=", "").replace("!=", ""):
        hint = "compare with `==`, not `=`"
    if at_end and not hint:
        hint = "something is missing at the end: a value after an operator, or a closing bracket"
    if msg.startswith("invalid syntax") and not hint:
        hint = "expressions look like `eps_growth_fy1 >= 0.10 and pe_fy1 < 80`"
    if "&" in src or "|" in src:
        hint = "write `and` / `or` instead of `&` / `|`"
    return ExprError("syntax", f"syntax error: {msg}", offset, end, hint)


class _Checker:
    """Deny-by-default translation of Python AST nodes into typed rule nodes."""

    def __init__(self, src: str, fields: dict, lead: int = 0, symbols: Callable[[str], str] | None = None):
        self.src = src
        self.fields = fields
        self.symbols = symbols
        self.lead = lead  # blanks stripped before parsing; added back to every span
        # ast columns are UTF-8 byte offsets; map them to character offsets once.
        self._byte_to_char = _byte_to_char_map(src)

    # -- positions --------------------------------------------------------------
    def span(self, node: ast.AST) -> Span:
        start = self._char(getattr(node, "col_offset", 0))
        end = self._char(getattr(node, "end_col_offset", None) or getattr(node, "col_offset", 0) + 1)
        return Span(start, max(end, start + 1))

    def _char(self, byte_offset: int) -> int:
        if byte_offset >= len(self._byte_to_char):
            return len(self.src) + self.lead
        return self._byte_to_char[byte_offset] + self.lead

    def fail(self, node: ast.AST | Span, code: str, message: str, hint: str | None = None):
        sp = node if isinstance(node, Span) else self.span(node)
        raise ExprError(code, message, sp.start, sp.end, hint)

    # -- the walk -------------------------------------------------------------
    def visit(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.fail(node, "too-complex", f"the expression nests deeper than {MAX_DEPTH} levels",
                      "simplify it or split it into several filters")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.fail(node, "not-allowed", _describe_forbidden(node), _forbidden_hint(node))
        return method(node, depth + 1)

    def visit_Constant(self, node: ast.Constant, depth: int) -> Node:
        v = node.value
        if isinstance(v, bool) or v is None:  # Python's True/False/None keywords
            word = {True: "true", False: "false"}.get(v, None)
            if word:
                self.fail(node, "unknown-name", f"unknown name `{v}`", f"did you mean `{word}`?")
            self.fail(node, "unknown-name", "unknown name `None`", "test for missing values with `is_null(x)`")
        if isinstance(v, (int, float)):
            try:
                number = float(v)
            except OverflowError:  # an integer literal with hundreds of digits
                number = math.inf
            if not math.isfinite(number):  # `1e999` is infinite; inf - inf would be NaN
                self.fail(node, "bad-number", "the number is too large", "write large numbers as e.g. 1e12")
            return Lit(Kind.NUMBER, self.span(node), number)
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                self.fail(node, "bad-text", f"the text holds U+{ord(v[e.start]):04X}, a lone surrogate that is not a "
                          "character and cannot be written as UTF-8",
                          "write the character itself, or its full escape (a \\U0001F600 escape for characters beyond U+FFFF)")
            return Lit(Kind.TEXT, self.span(node), v)
        self.fail(node, "not-allowed", f"{type(v).__name__} literals are not part of the rule language",
                  "use numbers, 'text', true or false")

    def visit_Name(self, node: ast.Name, depth: int) -> Node:
        name = node.id
        if name in ("true", "false"):
            return Lit(Kind.BOOL, self.span(node), name == "true")
        if name in ("null", "none", "None", "nan"):
            self.fail(node, "unknown-name", f"unknown name `{name}`", "test for missing values with `is_null(x)`")
        if name in self.fields:
            return Ref(self.fields[name].kind, self.span(node), name)
        if name in FUNCTIONS:
            self.fail(node, "not-a-field", f"`{name}` is a function, not a field",
                      f"call it: {FUNCTIONS[name].signature}")
        self.fail(node, "unknown-field", f"unknown field `{name}`",
                  suggestion(name, list(self.fields) + ["true", "false"], "field"))

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Node:
        operand = self.visit(node.operand, depth)
        if isinstance(node.op, ast.Not):
            self._expect(operand, Kind.BOOL, "`not` needs a condition")
            return Unary(Kind.BOOL, self.span(node), "not", operand)
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            self._expect(operand, Kind.NUMBER, "a sign needs a number")
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(operand, Lit):  # keep -0.1 a literal, for readable explain output
                return Lit(Kind.NUMBER, self.span(node), -operand.value)
            return Unary(Kind.NUMBER, self.span(node), "neg", operand)
        self.fail(node, "not-allowed", "`~` is not part of the rule language", "use `not`")

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Node:
        op = _ARITH_OPS.get(type(node.op))
        if op is None:
            sym = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|",
                   ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}.get(type(node.op), "?")
            hint = "write `and` / `or` to combine conditions" if sym in ("&", "|") else "use + - * / only"
            self.fail(node, "not-allowed", f"operator `{sym}` is not part of the rule language", hint)
        left = self.visit(node.left, depth)
        right = self.visit(node.right, depth)
        for side in (left, right):
            self._expect(side, Kind.NUMBER, f"`{op}` works on numbers")
        return Binary(Kind.NUMBER, self.span(node), op, left, right)

    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        operands = tuple(self.visit(v, depth) for v in node.values)
        for o in operands:
            self._expect(o, Kind.BOOL, f"`{op}` combines conditions")
        return BoolOp(Kind.BOOL, self.span(node), op, operands)

    def visit_Compare(self, node: ast.Compare, depth: int) -> Node:
        left_ast = node.left
        left = self.visit(left_ast, depth)
        parts: list[Node] = []
        for op_ast, right_ast in zip(node.ops, node.comparators):
            if isinstance(op_ast, (ast.In, ast.NotIn)):
                if len(parts) + 1 < len(node.ops):
                    # `x in ('a', 'b') == y` would compare the list itself with y
                    self.fail(node, "not-allowed", "a comparison cannot follow `in (...)` in a chain",
                              "join the two conditions with `and`, and use parentheses")
                part = self._membership(left, right_ast, isinstance(op_ast, ast.NotIn), node, depth)
                right = None
            elif isinstance(op_ast, (ast.Is, ast.IsNot)):
                self.fail(node, "not-allowed", "`is` is not part of the rule language",
                          "test for missing values with `is_null(x)`; compare values with `==`")
            else:
                right = self.visit(right_ast, depth)
                part = self._compare(_CMP_OPS[type(op_ast)], left, right)
            parts.append(part)
            left, left_ast = (right, right_ast) if right is not None else (left, left_ast)
        if len(parts) == 1:
            return parts[0]
        return BoolOp(Kind.BOOL, self.span(node), "and", tuple(parts))

    def visit_Call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            self.fail(node.func, "not-allowed", "only the built-in functions can be called",
                      "functions: " + ", ".join(sorted(FUNCTIONS)))
        name = node.func.id
        if name not in FUNCTIONS:
            if name in self.fields:
                self.fail(node.func, "not-a-function", f"`{name}` is a field, not a function",
                          "remove the parentheses after it")
            self.fail(node.func, "unknown-function", f"unknown function `{name}`",
                      suggestion(name, FUNCTIONS, "function"))
        if node.keywords:
            self.fail(node.keywords[0].value, "not-allowed", f"`{name}` takes no named arguments",
                      FUNCTIONS[name].signature)
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.fail(a, "not-allowed", "`*` arguments are not part of the rule language", FUNCTIONS[name].signature)
        args = tuple(self.visit(a, depth) for a in node.args)
        return self._call(name, args, node)

    def visit_Tuple(self, node: ast.AST, depth: int) -> Node:
        self.fail(node, "not-allowed", "a list of values only goes after `in`", "write `x in ('a', 'b')`")

    visit_List = visit_Tuple
    visit_Set = visit_Tuple

    # -- typing helpers -------------------------------------------------------------
    def _expect(self, node: Node, kind: Kind, why: str) -> None:
        if node.kind is kind:
            return
        if kind is Kind.NUMBER and node.kind is Kind.TEXT and isinstance(node, Lit):
            self.fail(node.span, "type-mismatch", f"{why}, but '{node.value}' is text",
                      "remove the quotes if you meant a number")
        self.fail(node.span, "type-mismatch", f"{why}, but {_describe(node)} is {_article(node.kind)}",
                  _kind_hint(kind))

    def _compare(self, op: str, left: Node, right: Node) -> Node:
        span = Span(left.span.start, right.span.end)
        lk, rk = left.kind, right.kind
        # ESG grades: a text literal on the other side must be a grade and becomes one.
        if Kind.GRADE in (lk, rk):
            left, right = self._as_grade(left), self._as_grade(right)
            return Compare(Kind.BOOL, span, op, left, right)
        # fields with a closed set of values: check the literal
        for a, b in ((left, right), (right, left)):
            if isinstance(a, Ref) and isinstance(b, Lit) and b.kind is Kind.TEXT:
                self._check_choice(a.name, b)
        if lk is not rk:
            self.fail(span, "type-mismatch",
                      f"cannot compare {_describe(left)} ({lk.value}) with {_describe(right)} ({rk.value})",
                      _mismatch_hint(left, right))
        if lk is Kind.TEXT_LIST:
            self.fail(span, "type-mismatch", f"`{op}` does not apply to a list", "test membership: 'quantum' in themes")
        if op not in ("==", "!=") and lk not in _ORDERED:
            self.fail(span, "type-mismatch", f"`{op}` needs numbers or ESG grades; {lk.value} compares only with == and !=",
                      "use == or !=")
        if _is_symbol_field(left):
            right = self._as_symbol(right)
        elif _is_symbol_field(right):
            left = self._as_symbol(left)
        return Compare(Kind.BOOL, span, op, left, right)

    def _as_symbol(self, node: Node) -> Node:
        """A text literal compared with `symbol`, in the resolver's canonical spelling."""
        if self.symbols is None or not (isinstance(node, Lit) and node.kind is Kind.TEXT):
            return node
        try:
            value = self.symbols(node.value)
        except LiteralError as e:
            self.fail(node.span, e.code, e.message, e.hint)
        return Lit(Kind.TEXT, node.span, value)

    def _as_grade(self, node: Node) -> Node:
        if node.kind is Kind.GRADE:
            return node
        if isinstance(node, Lit) and node.kind is Kind.TEXT:
            grade = parse_grade_literal(node.value)
            if grade is None:
                self.fail(node.span, "unknown-grade", f"'{node.value}' is not an ESG grade",
                          _grade_hint(node.value))
            return Lit(Kind.GRADE, node.span, grade)
        self.fail(node.span, "type-mismatch", f"ESG grades compare with grades such as 'AA-', not with {_describe(node)} ({node.kind.value})",
                  "write the grade in quotes, e.g. esg_rating >= 'AA-'")

    def _check_choice(self, field_name: str, lit: Lit) -> None:
        choices = getattr(self.fields.get(field_name), "choices", ())
        if choices and lit.value not in choices:
            self.fail(lit.span, "unknown-value", f"`{field_name}` is never '{lit.value}'",
                      suggestion(lit.value, choices, field_name))

    def _membership(self, needle: Node, hay_ast: ast.AST, negated: bool, whole: ast.AST, depth: int) -> Node:
        span = self.span(whole)
        if isinstance(hay_ast, (ast.Tuple, ast.List, ast.Set)):
            items = [self.visit(e, depth) for e in hay_ast.elts]
            if not items:
                self.fail(hay_ast, "empty-list", "the list after `in` is empty", "list at least one value")
            lits: list[Lit] = []
            for it in items:
                if not isinstance(it, Lit):
                    self.fail(it.span, "not-allowed", "the list after `in` holds plain values only",
                              "write values such as ('core', 'pure') or (1, 2)")
                if needle.kind is Kind.GRADE:
                    it = self._as_grade(it)
                elif it.kind is not needle.kind:
                    self.fail(it.span, "type-mismatch",
                              f"{_describe(needle)} is {_article(needle.kind)}, but {_describe(it)} is {_article(it.kind)}",
                              _mismatch_hint(needle, it))
                elif isinstance(needle, Ref) and it.kind is Kind.TEXT:
                    self._check_choice(needle.name, it)
                    if _is_symbol_field(needle):
                        it = self._as_symbol(it)
                lits.append(it)
            if needle.kind is Kind.TEXT_LIST:
                self.fail(needle.span, "type-mismatch", "a list cannot be looked up in a list",
                          "test one theme at a time: 'quantum' in themes")
            return InList(Kind.BOOL, span, needle, tuple(lits), negated)
        hay = self.visit(hay_ast, depth)
        if hay.kind is Kind.TEXT_LIST and isinstance(hay, Ref):
            if needle.kind is not Kind.TEXT:
                self.fail(needle.span, "type-mismatch", f"`{hay.name}` holds text, but {_describe(needle)} is {_article(needle.kind)}",
                          "write the theme in quotes: 'quantum' in themes")
            return InField(Kind.BOOL, span, needle, hay, negated)
        self.fail(hay.span, "type-mismatch", f"`in` needs a list such as ('a', 'b') or the field `themes`, not {_describe(hay)}",
                  "write `x in ('a', 'b')`; a single value needs a trailing comma: ('a',)")

    def _call(self, name: str, args: tuple[Node, ...], node: ast.Call) -> Node:
        sig = FUNCTIONS[name].signature
        span = self.span(node)

        def arity(lo: int, hi: int | None) -> None:
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"{lo}" if hi == lo else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
                self.fail(span, "wrong-arguments", f"`{name}` takes {want} argument{'s' if (hi or lo) != 1 else ''}, got {len(args)}", sig)

        if name == "between":
            arity(3, 3)
            x, lo, hi = args
            if x.kind is Kind.GRADE:
                lo, hi = self._as_grade(lo), self._as_grade(hi)
            else:
                for a in args:
                    self._expect(a, Kind.NUMBER, "`between` works on numbers or ESG grades")
            return Call(Kind.BOOL, span, name, (x, lo, hi))
        if name in ("abs", "log"):
            arity(1, 1)
            self._expect(args[0], Kind.NUMBER, f"`{name}` works on numbers")
            return Call(Kind.NUMBER, span, name, args)
        if name in ("min", "max"):
            arity(2, None)
            for a in args:
                self._expect(a, Kind.NUMBER, f"`{name}` works on numbers")
            return Call(Kind.NUMBER, span, name, args)
        if name == "coalesce":
            arity(2, None)
            # a grade anywhere makes text literals grades: coalesce('AA', esg_rating) works too
            kind = Kind.GRADE if any(a.kind is Kind.GRADE for a in args) else args[0].kind
            if kind is Kind.GRADE:
                args = tuple(self._as_grade(a) for a in args)
            for a in args[1:]:
                if a.kind is not kind:
                    self.fail(a.span, "type-mismatch", f"`coalesce` arguments must all be {kind.value}, but {_describe(a)} is {_article(a.kind)}", sig)
            return Call(kind, span, name, args)
        if name == "is_null":
            arity(1, 1)
            return Call(Kind.BOOL, span, name, args)
        raise AssertionError(name)  # pragma: no cover - FUNCTIONS and this method agree


def _byte_to_char_map(src: str) -> list[int]:
    table: list[int] = []
    for i, ch in enumerate(src):
        table.extend([i] * len(ch.encode("utf-8")))
    table.append(len(src))
    return table


def _describe(node: Node) -> str:
    if isinstance(node, Ref):
        return f"`{node.name}`"
    if isinstance(node, Lit):
        if node.kind is Kind.TEXT or node.kind is Kind.GRADE:
            return f"'{node.value}'"
        if node.kind is Kind.BOOL:
            return "true" if node.value else "false"
        v = node.value
        return repr(int(v)) if float(v).is_integer() else repr(v)
    return "that expression"


def _article(kind: Kind) -> str:
    return {Kind.NUMBER: "a number", Kind.TEXT: "text", Kind.BOOL: "a condition (true/false)",
            Kind.GRADE: "an ESG grade", Kind.TEXT_LIST: "a list of text"}[kind]


def _kind_hint(kind: Kind) -> str:
    return {
        Kind.NUMBER: "use a numeric field such as eps_growth_fy1, or a number",
        Kind.BOOL: "write a comparison such as `pe_fy1 < 40`",
        Kind.TEXT: "write the text in quotes",
        Kind.GRADE: "write a grade in quotes, e.g. 'AA-'",
        Kind.TEXT_LIST: "use the field `themes`",
    }[kind]


def _mismatch_hint(left: Node, right: Node) -> str:
    for a, b in ((left, right), (right, left)):
        if a.kind is Kind.NUMBER and isinstance(b, Lit) and b.kind is Kind.TEXT:
            try:
                float(b.value)
                return f"remove the quotes around '{b.value}'"
            except ValueError:
                pass
        if a.kind is Kind.TEXT and isinstance(b, Lit) and b.kind is Kind.NUMBER:
            return f"text values go in quotes: '{_describe(b)}'"
    return "compare a field with a value of the same kind"


def _is_symbol_field(node: Node) -> bool:
    return isinstance(node, Ref) and node.name in SYMBOL_FIELDS


def _grade_hint(value: str) -> str:
    written = grade_literals()
    same_letters = [g for g in written if g.lower() == value.lower()]
    if same_letters:  # 'aa-pi': the letters are right, the case is not
        return f"grades are upper case: did you mean '{same_letters[0]}'?"
    near = did_you_mean(value, written) or did_you_mean(value.upper(), written)
    head = f"did you mean '{near}'? " if near else ""
    suffixes = ", ".join(RATER_SUFFIXES)
    return f"{head}(scale, highest first: {' > '.join(GRADES_HIGH_TO_LOW)}; a rater suffix may follow: {suffixes})"


def _describe_forbidden(node: ast.AST) -> str:
    what = {
        "Attribute": "attribute access (`.`)",
        "Subscript": "indexing (`[...]`)",
        "Lambda": "`lambda`",
        "IfExp": "`... if ... else ...`",
        "ListComp": "comprehensions",
        "GeneratorExp": "comprehensions",
        "SetComp": "comprehensions",
        "DictComp": "comprehensions",
        "Dict": "`{...}`",
        "JoinedStr": "f-strings",
        "NamedExpr": "`:=`",
        "Await": "`await`",
        "Yield": "`yield`",
        "Starred": "`*`",
        "Slice": "slices",
    }.get(type(node).__name__, type(node).__name__)
    return f"{what} is not part of the rule language"


def _forbidden_hint(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return "fields are plain names such as eps_fy1; functions: " + ", ".join(sorted(FUNCTIONS))
    if isinstance(node, ast.IfExp):
        return "use coalesce(...) for defaults, or write two filters"
    return "rules are made of fields, values, + - * /, comparisons, and/or/not, `in`, and the functions " + ", ".join(sorted(FUNCTIONS))
