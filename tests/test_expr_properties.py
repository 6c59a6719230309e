"""Properties of the rule expression language, checked with hypothesis.

1. Robustness: any text (random, or a valid expression mutated by inserting, deleting and
   replacing characters and splicing tokens) either compiles to a node or raises `ExprError`
   with an offset inside the source; nothing else ever escapes `compile_expr`.
2. Every node that compiles also translates to polars and evaluates on a frame holding every
   field of the catalogue, with the dtype its kind promises and one value per row.
3. Agreement: for well-typed expressions built from the grammar, polars gives, row by row, what a
   small pure-Python reference evaluator of the documented semantics gives (nulls included).
4. Safety: sources that try to import, open files, exec/eval, reach attributes, define lambdas or
   comprehensions always raise `ExprError`, and nothing dangerous is called while checking them.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import math
import os
import re
import socket
import subprocess

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.rules import expr as E
from screener.rules.expr import ExprError, compile_expr
from screener.rules.fields import EXPOSURE_LEVELS, FIELDS, MARKETS, Kind
from screener.rules.grades import GRADES_HIGH_TO_LOW, GRADES_LOW_TO_HIGH, grade_dtype
from screener.engine.polars_backend import to_polars

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_DTYPES = {
    Kind.NUMBER: pl.Float64,
    Kind.TEXT: pl.String,
    Kind.BOOL: pl.Boolean,
    Kind.GRADE: grade_dtype(),
    Kind.TEXT_LIST: pl.List(pl.String),
}

# -- a frame with every field: nulls, zeros, negatives, Chinese text, empty and missing lists ----

ROWS = 6
_NUMBER_ROWS = [
    [1.5, 0.0, -2.0, None, 40.0, 0.25],
    [None, 3.0, 0.0, -0.5, 2.0, 100.0],
    [12.0, -1.0, None, 0.0, 0.5, 7.0],
]
_TEXT_ROWS = {
    "symbol": ["603019.SH", "IONQ.US", "0020.HK", "PRIVATE:brainco", "688256.SH", None],
    "name": ["中科曙光", "IonQ", "商汤", None, "寒武纪", "x'y"],
    "exposure": ["pure", "core", None, "partial", "peripheral", "core"],
    "market": ["CN", "US", "HK", "PRIVATE", "CN", None],
    "exchange": ["SSE", "NYSE", "HKEX", None, "SSE", "SZSE"],
    "currency": ["CNY", "USD", "HKD", None, "CNY", "CNY"],
    "esg_rater": ["绿发信评", None, "MSCI", "绿发信评", "华证", "绿发信评"],
    "eps_currency": ["CNY", "USD", "CNY", None, "CNY", "HKD"],
}


def _column(name: str, i: int) -> list:
    kind = FIELDS[name].kind
    if kind is Kind.NUMBER:
        base = _NUMBER_ROWS[i % len(_NUMBER_ROWS)]
        return [None if v is None else v * (1 + i % 4) for v in base]
    if kind is Kind.TEXT:
        return _TEXT_ROWS.get(name, ["a", None, "寒武纪", "", "b", "a"])
    if kind is Kind.BOOL:
        return [True, False, None, True, False, True]
    if kind is Kind.GRADE:
        return ["AA+", "A-", None, "AAA", "C", "AA-"]
    if kind is Kind.TEXT_LIST:
        return [["esg_compute", "ai_compute"], ["quantum"], [], None, ["bci"], ["quantum", "bci"]]
    raise AssertionError(kind)


FRAME = pl.DataFrame(
    [pl.Series(name, _column(name, i), dtype=_DTYPES[f.kind]) for i, (name, f) in enumerate(FIELDS.items())]
)
assert FRAME.height == ROWS


def evaluate(node: E.Node) -> pl.Series:
    """Evaluate eagerly and lazily (the engine's way, with the query optimiser): same result."""
    expr = to_polars(node).alias("_out")
    out = FRAME.with_columns(expr)["_out"]
    assert out.len() == ROWS
    assert out.dtype == _DTYPES[node.kind], (node.kind, out.dtype)
    lazy = FRAME.lazy().with_columns(expr).collect()["_out"]
    assert lazy.to_list() == out.to_list() or str(lazy.to_list()) == str(out.to_list())  # NaN-safe
    return out


def check(source: str) -> E.Node | None:
    """The robustness contract: a node, or an ExprError pointing inside the source."""
    try:
        node = compile_expr(source)
    except ExprError as e:
        assert isinstance(e.code, str) and e.code
        assert isinstance(e.message, str) and e.message
        assert 0 <= e.start <= len(source), (e.start, len(source))
        assert e.end >= e.start
        return None
    assert isinstance(node, E.Node)
    evaluate(node)
    return node


# -- sources: random text, token soup, mutated valid expressions -----------------------------------

FUNCS = sorted(E.FUNCTIONS)
VOCAB = [
    *FIELDS, *FUNCS, *(f + "(" for f in FUNCS),
    "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "=", "and", "or", "not", "in", "not in", "is",
    "(", ")", "(", ")", ",", "'", '"', "'quantum'", "'AA-'", "'AA+pi'", "'aa'", "'寒武纪'", "'pure'", "''",
    "0", "1", "-1", "0.10", "1e3", "1e999", "0x1f", "1_000", "1" + "0" * 400, ".", "[", "]", "{", "}", ":",
    "true", "false", "True", "None", "null", "lambda", "#", "\\", "\n", "\t", " ", "**", "%", "&", "|",
    "~", "@", "if", "else", "for", ";", "`", "$", "寒武纪", "é", "\u00a0", "\u200b", "\u2028", "\x0c",
    "\x00", "😀", "__import__", "__class__", "open", "exec", "eval",
]
SEEDS = [
    "esg_rating >= 'AA-'",
    "eps_fy1 > 0",
    "eps_growth_fy1 >= 0.10 and pe_fy1 < 80",
    "between(peg_fy1, 0, 2)",
    "exposure in ('pure', 'core', 'partial')",
    "'quantum' in themes and listed",
    "not is_null(close)",
    "coalesce(revision_3m, 0)",
    "min(pe_fy1, pe_fy2) < 30 or abs(revision_1m) < 0.05",
    "log(market_cap) - max(eps_fy0, eps_fy1, eps_fy2) / 2",
    "0 < eps_fy1 <= eps_fy2 < 100",
    "name == '寒武纪' or market not in ('US',)",
    "esg_score * exposure_score + -analysts",
    "between(esg_rating, 'A-', 'AAA') and esg_rater == '绿发信评'",
    "coalesce(esg_rating, 'BBBpi') > 'BB'",
    "\n    eps_growth_fy1 >= 0.10\n    and pe_fy1 < 80\n",
]

_chars = st.one_of(st.characters(), st.sampled_from("()[]{}'\",.:=<>!+-*/#\\ \n\t0123456789_aeiouxyz"))
_token = st.sampled_from(VOCAB)


@st.composite
def mutated(draw) -> str:
    src = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "splice", "swap"]))
        pos = draw(st.integers(0, len(src)))
        if op == "insert":
            src = src[:pos] + draw(_chars) + src[pos:]
        elif op == "delete":
            end = draw(st.integers(pos, min(len(src), pos + 8)))
            src = src[:pos] + src[end:]
        elif op == "replace":
            src = src[:pos] + draw(_chars) + src[pos + 1:]
        elif op == "splice":
            src = src[:pos] + draw(_token) + src[pos:]
        else:  # swap two slices of the source
            other = draw(st.integers(0, len(src)))
            a, b = sorted((pos, other))
            src = src[b:] + src[a:b] + src[:a]
    return src


_TOKEN_RE = re.compile(r"'[^']*'|\d+(?:\.\d+)?(?:e\d+)?|\w+|[<>=!]=|\S")
_NAMES = [*FIELDS, *FUNCS, "true", "false"]
_OPERATORS = ["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "in", "not in"]


@st.composite
def token_mutated(draw) -> str:
    """A seed with whole tokens replaced, dropped, repeated or inserted: mostly still parses."""
    toks = _TOKEN_RE.findall(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(toks) - 1)))
        op = draw(st.sampled_from(["name", "operator", "literal", "drop", "repeat", "insert"]))
        if op == "name":
            toks[i:i + 1] = [draw(st.sampled_from(_NAMES))]
        elif op == "operator":
            toks[i:i + 1] = [draw(st.sampled_from(_OPERATORS))]
        elif op == "literal":
            toks[i:i + 1] = [draw(st.sampled_from(["0", "-1", "0.5", "'pure'", "'AA-'", "'quantum'", "'寒武纪'", "true"]))]
        elif op == "drop":
            del toks[i:i + 1]
        elif op == "repeat":
            toks[i:i] = toks[i:i + 1]
        else:
            toks[i:i] = [draw(_token)]
    return " ".join(toks)


token_soup = st.lists(_token, max_size=14).flatmap(
    lambda toks: st.sampled_from([" ".join(toks), "".join(toks)])
)


@SETTINGS
@given(st.text(max_size=60))
def test_random_text_compiles_or_raises_expr_error(source):
    check(source)


@SETTINGS
@given(token_soup)
def test_token_soup_compiles_or_raises_expr_error(source):
    check(source)


@SETTINGS
@given(mutated())
def test_mutated_expressions_compile_or_raise_expr_error(source):
    check(source)


@SETTINGS
@given(token_mutated())
def test_token_mutated_expressions_compile_or_raise_expr_error(source):
    check(source)


def test_the_seeds_themselves_compile_and_evaluate():
    for seed in SEEDS:
        assert check(seed) is not None, seed


# -- well-typed expressions from the grammar, against a reference evaluator ------------------------

NUM_FIELDS = [n for n, f in FIELDS.items() if f.kind is Kind.NUMBER]
FREE_TEXT_FIELDS = [n for n, f in FIELDS.items() if f.kind is Kind.TEXT and not f.choices]
_text_value = st.text(alphabet=st.sampled_from("ab寒武纪 -.:SHUCNY绿发信评"), max_size=5)
_text_lit = _text_value.map(lambda s: f"'{s}'")
_num_lit = st.one_of(
    st.integers(-5, 100).map(str),
    st.sampled_from(["0.5", "0.25", "1.5", "0", "-0.5", "1e2", "2.0"]),
)
# constant sub-expressions that are null: polars folds them, which once broke broadcasting
_const_null = st.sampled_from(["log(0)", "(1 / 0)", "coalesce(log(-1), 1 / 0)"])
_grade_lit = st.sampled_from(GRADES_HIGH_TO_LOW).flatmap(lambda g: st.sampled_from([f"'{g}'", f"'{g}pi'"]))


def _num(leaf):
    return st.recursive(
        st.one_of(st.sampled_from(NUM_FIELDS), _num_lit, _const_null) if leaf is None else leaf,
        lambda c: st.one_of(
            st.tuples(c, st.sampled_from(["+", "-", "*", "/"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            c.map(lambda x: f"-{x}"),
            st.tuples(st.sampled_from(["abs", "log"]), c).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(c, min_size=2, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
        ),
        max_leaves=6,
    )


NUM = _num(None)
TEXT = st.one_of(
    st.sampled_from(FREE_TEXT_FIELDS),
    _text_lit,
    st.tuples(st.sampled_from(FREE_TEXT_FIELDS), _text_lit).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
)
GRADE = st.one_of(st.just("esg_rating"), _grade_lit.map(lambda g: f"coalesce(esg_rating, {g})"))
CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])

_atom_bool = st.one_of(
    st.tuples(NUM, CMP, NUM).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(NUM, CMP, NUM, CMP, NUM).map(lambda t: " ".join(t)),  # chains
    st.tuples(TEXT, st.sampled_from(["==", "!="]), TEXT).map(lambda t: " ".join(t)),
    st.tuples(st.sampled_from(EXPOSURE_LEVELS), st.sampled_from(["==", "!="])).map(lambda t: f"exposure {t[1]} '{t[0]}'"),
    st.tuples(GRADE, CMP, _grade_lit).map(lambda t: " ".join(t)),
    st.tuples(_grade_lit, CMP, GRADE).map(lambda t: " ".join(t)),
    st.tuples(st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(MARKETS), min_size=1, max_size=3)).map(
        lambda t: f"market {t[0]} ({', '.join(repr(m) for m in t[1])},)"
    ),
    st.tuples(NUM, st.sampled_from(["in", "not in"]), st.lists(_num_lit, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} {t[1]} ({', '.join(t[2])},)"
    ),
    st.tuples(st.sampled_from(["in", "not in"]), st.lists(_grade_lit, min_size=1, max_size=3)).map(
        lambda t: f"esg_rating {t[0]} ({', '.join(t[1])},)"
    ),
    st.tuples(TEXT, st.sampled_from(["in", "not in"])).map(lambda t: f"{t[0]} {t[1]} themes"),
    st.sampled_from(["'quantum' in themes", "'bci' not in themes", "listed", "not listed", "true", "false"]),
    st.tuples(NUM, NUM, NUM).map(lambda t: f"between({t[0]}, {t[1]}, {t[2]})"),
    st.tuples(_grade_lit, _grade_lit).map(lambda t: f"between(esg_rating, {t[0]}, {t[1]})"),
    st.sampled_from([*FIELDS, "1"]).map(lambda f: f"is_null({f})"),
    st.just("coalesce(listed, false)"),
)
BOOL = st.recursive(
    _atom_bool,
    lambda c: st.one_of(
        st.tuples(c, st.sampled_from(["and", "or"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        c.map(lambda x: f"not ({x})"),
        st.tuples(c, st.sampled_from(["==", "!="]), c).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    ),
    max_leaves=5,
)

_RANK = {g: i for i, g in enumerate(GRADES_LOW_TO_HIGH)}
_OPS = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def reference(node: E.Node, row: dict):
    """The documented semantics, one row at a time, in plain Python (grades as ranks)."""
    r = lambda n: reference(n, row)  # noqa: E731
    if isinstance(node, E.Lit):
        return _RANK[node.value] if node.kind is Kind.GRADE else node.value
    if isinstance(node, E.Ref):
        v = row[node.name]
        return _RANK[v] if (node.kind is Kind.GRADE and v is not None) else v
    if isinstance(node, E.Unary):
        v = r(node.operand)
        return None if v is None else (not v if node.op == "not" else -v)
    if isinstance(node, E.Binary):
        a, b = r(node.left), r(node.right)
        if a is None or b is None or (node.op == "/" and b == 0):
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[node.op]
    if isinstance(node, E.Compare):
        a, b = r(node.left), r(node.right)
        return None if a is None or b is None else _OPS[node.op](a, b)
    if isinstance(node, E.BoolOp):
        vals = [r(o) for o in node.operands]
        if node.op == "and":
            return False if False in vals else (None if None in vals else True)
        return True if True in vals else (None if None in vals else False)
    if isinstance(node, E.InList):
        v = r(node.needle)
        if v is None:
            return None
        hit = v in [r(i) for i in node.items]
        return hit != node.negated
    if isinstance(node, E.InField):
        v, lst = r(node.needle), row[node.field.name]
        if v is None or lst is None:
            return None
        return (v in lst) != node.negated
    if isinstance(node, E.Call):
        args = [r(a) for a in node.args]
        if node.func == "is_null":
            return args[0] is None
        if node.func == "coalesce":
            return next((a for a in args if a is not None), None)
        if node.func == "between":  # `lo <= x and x <= hi`, Kleene: a null bound may still give false
            x, lo, hi = args
            low = None if x is None or lo is None else lo <= x
            high = None if x is None or hi is None else x <= hi
            return False if False in (low, high) else (None if None in (low, high) else True)
        if any(a is None for a in args):
            return None
        if node.func == "abs":
            return abs(args[0])
        if node.func == "log":
            return math.log(args[0]) if args[0] > 0 else None
        return min(args) if node.func == "min" else max(args)
    raise AssertionError(type(node))


def _same(got, want, kind: Kind) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if kind is Kind.NUMBER:
        if math.isnan(want) or math.isnan(got):
            return math.isnan(want) and math.isnan(got)
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9) or got == want
    if kind is Kind.GRADE:
        return _RANK[got] == want
    return got == want


def _agrees(source: str) -> None:
    try:
        node = compile_expr(source)
    except ExprError as e:
        # well-typed by construction; only the size limits may refuse it
        assert e.code in ("too-complex", "too-long"), (source, e.code, e.message)
        return
    got = evaluate(node).to_list()
    rows = FRAME.to_dicts()
    for i, row in enumerate(rows):
        want = reference(node, row)
        assert _same(got[i], want, node.kind), f"{source!r} row {i}: polars {got[i]!r}, reference {want!r}"


@SETTINGS
@given(BOOL)
def test_conditions_agree_with_the_reference_semantics(source):
    _agrees(source)


@SETTINGS
@given(NUM)
def test_numbers_agree_with_the_reference_semantics(source):
    _agrees(source)


# -- safety: nothing runs ----------------------------------------------------------------------------

DANGEROUS = [
    "__import__('os')",
    "__import__('os').system('echo pwned')",
    "open('/etc/passwd')",
    "open('pwned.txt', 'w')",
    "exec('import os')",
    "eval('1')",
    "compile('1', '', 'eval')",
    "getattr(pe_fy1, 'real')",
    "globals()",
    "breakpoint()",
    "().__class__.__bases__[0].__subclasses__()",
    "pe_fy1.real",
    "'x'.join(themes)",
    "name.upper()",
    "themes.__len__()",
    "lambda: 1",
    "(lambda x: x)(1)",
    "[x for x in themes]",
    "{x for x in themes}",
    "(x for x in themes)",
    "{x: 1 for x in themes}",
    "[os.system('echo pwned') for os in [__import__('os')]]",
]
CONTEXTS = [
    "{}",
    "{} > 0",
    "pe_fy1 > 0 and {}",
    "not {}",
    "max({}, 1) > 0",
    "({})",
    "'quantum' in {}",
    "exposure in ({},)",
    "coalesce(pe_fy1, {})",
    "is_null({})",
    "\n    {}\n",
]


@contextlib.contextmanager
def nothing_runs():
    """Fail if imports, file opens, exec/eval, non-AST compile, shells or sockets are used."""
    calls: list[str] = []
    real_compile = builtins.compile

    def refuse(what):
        def _refuse(*args, **kwargs):
            calls.append(what)
            raise AssertionError(f"{what} was called while checking a rule expression")

        return _refuse

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:  # parsing to a tree is fine, producing code is not
            calls.append("compile")
            raise AssertionError("compile() to code was called while checking a rule expression")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    patches = [
        (builtins, "__import__", refuse("__import__")),
        (builtins, "open", refuse("open")),
        (builtins, "exec", refuse("exec")),
        (builtins, "eval", refuse("eval")),
        (builtins, "compile", ast_only_compile),
        (os, "system", refuse("os.system")),
        (os, "popen", refuse("os.popen")),
        (subprocess, "Popen", refuse("subprocess.Popen")),
        (socket, "socket", refuse("socket.socket")),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield calls
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)
    assert not calls, calls


def _must_refuse(source: str) -> None:
    with nothing_runs():
        try:
            node = compile_expr(source)
        except ExprError as e:
            assert 0 <= e.start <= len(source)
            return
    raise AssertionError(f"{source!r} compiled to {node!r}")


def test_the_guard_notices_a_call():
    """The guard itself works: an import inside it is caught."""
    try:
        with nothing_runs():
            __import__("json")
    except AssertionError:
        return
    raise AssertionError("nothing_runs() let an import through")


def test_every_dangerous_snippet_in_every_context_is_refused():
    for snippet in DANGEROUS:
        for context in CONTEXTS:
            _must_refuse(context.format(snippet))


@SETTINGS
@given(st.sampled_from(DANGEROUS), st.sampled_from(CONTEXTS), st.sampled_from(SEEDS), st.sampled_from(["and", "or", "+", "==", ","]))
def test_dangerous_code_spliced_into_valid_rules_is_refused(snippet, context, seed, joiner):
    _must_refuse(f"{seed} {joiner} {context.format(snippet)}")
    _must_refuse(f"{context.format(snippet)} {joiner} ({seed})")


@SETTINGS
@given(st.sampled_from(DANGEROUS))
def test_dangerous_text_inside_a_string_literal_is_only_text(snippet):
    """Quoted, it is a harmless value; compiling and evaluating it calls nothing."""
    quoted = "'" + snippet.replace("'", '"') + "'"
    with nothing_runs():
        node = compile_expr(f"name == {quoted}")
    assert isinstance(node, E.Compare) and node.right.value == snippet.replace("'", '"')
    assert evaluate(node).to_list() == [None if n is None else False for n in FRAME["name"].to_list()]
