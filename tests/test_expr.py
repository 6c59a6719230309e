"""The rule expression language, end to end on small in-memory frames.

Each test compiles an expression (`screener.rules.expr.compile_expr`), turns it into a polars
expression (`screener.engine.polars_backend.to_polars`) and evaluates it on a few hand-written rows;
the expected lists are computed by hand. `None` in an expected list is a null result.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from screener.rules.expr import (
    BoolOp,
    Call,
    Compare,
    ExprError,
    InField,
    LiteralError,
    InList,
    Lit,
    compile_expr,
    referenced_fields,
)
from screener.rules.fields import FIELDS, Kind
from screener.rules.grades import grade_dtype
from screener.engine.polars_backend import to_polars

_DTYPES = {
    Kind.NUMBER: pl.Float64,
    Kind.TEXT: pl.String,
    Kind.BOOL: pl.Boolean,
    Kind.GRADE: grade_dtype(),
    Kind.TEXT_LIST: pl.List(pl.String),
}


def frame(**columns: list) -> pl.DataFrame:
    """A frame of the given field columns, each with the dtype the engine gives that field."""
    return pl.DataFrame({name: pl.Series(name, values, dtype=_DTYPES[FIELDS[name].kind]) for name, values in columns.items()})


def ev(source: str, df: pl.DataFrame) -> list:
    """Evaluate `source` on every row of `df` (the way the engine does: `with_columns`)."""
    return df.with_columns(to_polars(compile_expr(source)).alias("_out"))["_out"].to_list()


# -- arithmetic ------------------------------------------------------------------------------

NUMS = frame(
    eps_fy1=[2.0, -1.5, None, 0.0],
    eps_fy2=[3.0, 0.5, 1.0, None],
    close=[10.0, 4.0, 8.0, 2.0],
)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("eps_fy1 + eps_fy2", [5.0, -1.0, None, None]),
        ("eps_fy1 - eps_fy2", [-1.0, -2.0, None, None]),
        ("eps_fy1 * eps_fy2", [6.0, -0.75, None, None]),
        ("close / eps_fy2", [10.0 / 3.0, 8.0, 8.0, None]),
        ("-eps_fy1", [-2.0, 1.5, None, -0.0]),
        ("+eps_fy1", [2.0, -1.5, None, 0.0]),
        ("- -close", [10.0, 4.0, 8.0, 2.0]),
        ("1 + 2 * close", [21.0, 9.0, 17.0, 5.0]),  # * binds tighter than +
        ("(1 + 2) * close", [30.0, 12.0, 24.0, 6.0]),
        ("close - 1 - 1", [8.0, 2.0, 6.0, 0.0]),  # left-associative
        ("close / 2 / 2", [2.5, 1.0, 2.0, 0.5]),
        ("2.5e1 + 0 * close", [25.0, 25.0, 25.0, 25.0]),
        ("10", [10.0, 10.0, 10.0, 10.0]),
    ],
)
def test_arithmetic(source, expected):
    assert ev(source, NUMS) == pytest.approx(expected)


def test_division_by_zero_is_null_not_infinite():
    # close / eps_fy1: 10/2, 4/-1.5, 8/null, 2/0
    assert ev("close / eps_fy1", NUMS) == [5.0, pytest.approx(-8.0 / 3.0), None, None]
    assert ev("eps_fy1 / 0", NUMS) == [None, None, None, None]
    assert ev("0 / eps_fy1", NUMS) == [0.0, -0.0, None, None]
    # so a P/E over a zero EPS cannot pass a `> 0` filter
    assert ev("close / eps_fy1 > 0", NUMS) == [True, False, None, None]


def test_numbers_are_float64():
    df = NUMS.with_columns(to_polars(compile_expr("eps_fy1 + 1")).alias("_out"))
    assert df.schema["_out"] == pl.Float64
    assert compile_expr("3").kind is Kind.NUMBER
    assert compile_expr("-0.1") == Lit(Kind.NUMBER, compile_expr("-0.1").span, -0.1)  # stays a literal


# -- comparisons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        # eps_fy1 = [2.0, -1.5, None, 0.0]
        ("eps_fy1 == 0", [False, False, None, True]),
        ("eps_fy1 != 0", [True, True, None, False]),
        ("eps_fy1 < 0", [False, True, None, False]),
        ("eps_fy1 <= 0", [False, True, None, True]),
        ("eps_fy1 > 0", [True, False, None, False]),
        ("eps_fy1 >= 0", [True, False, None, True]),
        ("0 < eps_fy1", [True, False, None, False]),  # literal on the left
        ("eps_fy1 < eps_fy2", [True, True, None, None]),
        ("eps_fy1 == -1.5", [False, True, None, False]),
    ],
)
def test_number_comparisons(source, expected):
    assert ev(source, NUMS) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        # close = [10, 4, 8, 2]
        ("0 < close < 8", [False, True, False, True]),
        ("2 <= close <= 8", [False, True, True, True]),
        ("2 < close <= 10", [True, True, True, False]),
        ("eps_fy1 < eps_fy2 < close", [True, True, None, None]),  # eps_fy1 null -> null; eps_fy2 null -> null
        ("10 >= close > 2 != 3", [True, True, True, False]),
        ("0 < close < 8 and close != 4", [False, False, False, True]),
    ],
)
def test_chained_comparisons_mean_and(source, expected):
    assert ev(source, NUMS) == expected
    node = compile_expr(source.split(" and ")[0])
    assert isinstance(node, BoolOp) and node.op == "and"


def test_chained_comparison_evaluates_the_middle_once_per_link():
    node = compile_expr("0 < close < 8")
    assert isinstance(node, BoolOp)
    first, second = node.operands
    assert isinstance(first, Compare) and isinstance(second, Compare)
    assert (first.op, second.op) == ("<", "<")
    assert first.right == second.left  # `close` is shared, not re-parsed differently


TEXT = frame(
    name=["寒武纪", "IonQ", None, "海光信息"],
    exposure=["pure", "core", "partial", None],
    market=["CN", "US", "PRIVATE", "CN"],
    listed=[True, True, False, None],
)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("name == '寒武纪'", [True, False, None, False]),
        ("name != '寒武纪'", [False, True, None, True]),
        ("'IonQ' == name", [False, True, None, False]),
        ('name == "IonQ"', [False, True, None, False]),  # double-quoted text works as well
        ("exposure == 'pure'", [True, False, False, None]),
        ("market != 'CN'", [False, True, True, False]),
        ("listed == true", [True, True, False, None]),
        ("listed != false", [True, True, False, None]),
        ("listed", [True, True, False, None]),
        ("true", [True, True, True, True]),
        ("false", [False, False, False, False]),
    ],
)
def test_text_and_boolean_equality(source, expected):
    assert ev(source, TEXT) == expected


# -- and / or / not: Kleene logic --------------------------------------------------------------

LOGIC = frame(
    listed=[True, True, True, False, False, False, None, None, None],
    eps_fy1=[1.0, -1.0, None, 1.0, -1.0, None, 1.0, -1.0, None],
)


@pytest.mark.parametrize(
    "source, expected",
    [
        # listed:   T     T      T     F      F      F      N     N      N
        # eps>0:    T     F      N     T      F      N      T     F      N
        ("listed and eps_fy1 > 0", [True, False, None, False, False, False, None, False, None]),
        ("listed or eps_fy1 > 0", [True, True, True, True, False, None, True, None, None]),
        ("not listed", [False, False, False, True, True, True, None, None, None]),
        ("not eps_fy1 > 0", [False, True, None, False, True, None, False, True, None]),
        ("not not listed", [True, True, True, False, False, False, None, None, None]),
        ("listed and not eps_fy1 > 0", [False, True, None, False, False, False, False, None, None]),
        # `and` binds tighter than `or`; `not` tighter than both
        ("not listed or eps_fy1 > 0 and listed",
         [True, False, None, True, True, True, None, None, None]),
        ("(not listed or eps_fy1 > 0) and listed",
         [True, False, None, False, False, False, None, None, None]),
        ("listed and eps_fy1 > 0 and eps_fy1 < 2", [True, False, None, False, False, False, None, False, None]),
    ],
)
def test_and_or_not_follow_kleene_logic(source, expected):
    assert ev(source, LOGIC) == expected


def test_kleene_logic_on_literals():
    one = frame(listed=[None])
    assert ev("false and listed", one) == [False]
    assert ev("true and listed", one) == [None]
    assert ev("true or listed", one) == [True]
    assert ev("false or listed", one) == [None]
    assert ev("not listed", one) == [None]


# -- in / not in -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        # exposure = ['pure', 'core', 'partial', None]; market = CN US PRIVATE CN
        ("exposure in ('pure', 'core')", [True, True, False, None]),
        ("exposure not in ('pure', 'core')", [False, False, True, None]),
        ("exposure in ('partial',)", [False, False, True, None]),
        ("exposure in ['pure']", [True, False, False, None]),  # a bracketed list reads the same
        ("market in ('CN', 'HK')", [True, False, False, True]),
        ("not market in ('CN', 'HK')", [False, True, True, False]),
        ("name in ('寒武纪', '海光信息')", [True, False, None, True]),
        ("listed in (true,)", [True, True, False, None]),
        ("'a' in ('a', 'b')", [True, True, True, True]),  # a literal needle broadcasts
        ("'c' not in ('a', 'b')", [True, True, True, True]),
    ],
)
def test_in_a_list(source, expected):
    assert ev(source, TEXT) == expected


def test_number_in_a_list():
    # eps_fy1 = [2.0, -1.5, None, 0.0]; integer literals are numbers like any other
    assert ev("eps_fy1 in (2, 0)", NUMS) == [True, False, None, True]
    assert ev("eps_fy1 not in (2, 0)", NUMS) == [False, True, None, False]
    assert ev("eps_fy1 in (-1.5,)", NUMS) == [False, True, None, False]


THEMES = frame(
    symbol=["603019.SH", "IONQ.US", "PRIVATE:brainco", "0020.HK", "X.US"],
    themes=[["esg_compute", "ai_compute"], ["quantum"], ["bci"], [], None],
)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("'quantum' in themes", [False, True, False, False, None]),
        ("'quantum' not in themes", [True, False, True, True, None]),
        ("'ai_compute' in themes or 'bci' in themes", [True, False, True, False, None]),
        ("not 'bci' in themes", [True, True, False, True, None]),
        ("'esg_compute' in themes and 'ai_compute' in themes", [True, False, False, False, None]),
        ("is_null(themes)", [False, False, False, False, True]),
    ],
)
def test_text_in_the_themes_list(source, expected):
    assert ev(source, THEMES) == expected
    assert compile_expr("'quantum' in themes").kind is Kind.BOOL


def test_a_missing_needle_is_null_in_a_list_field_too():
    # as with `x in (...)`: a null value is neither in nor out, so `not in` cannot pass a filter
    df = frame(name=[None, "bci", None, "bci"], themes=[["bci"], ["bci"], None, []])
    assert ev("name in themes", df) == [None, True, None, False]
    assert ev("name not in themes", df) == [None, False, None, True]


def test_in_builds_membership_nodes():
    assert isinstance(compile_expr("exposure in ('pure', 'core')"), InList)
    node = compile_expr("'quantum' not in themes")
    assert isinstance(node, InField) and node.negated and node.field.name == "themes"


# -- functions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        # close = [10, 4, 8, 2]; eps_fy1 = [2, -1.5, None, 0]
        ("between(close, 4, 8)", [False, True, True, False]),  # inclusive at both ends
        ("between(close, 2, 10)", [True, True, True, True]),
        ("between(close, 8, 4)", [False, False, False, False]),  # an empty range
        ("between(eps_fy1, -1.5, 0)", [False, True, None, True]),
        ("between(close, eps_fy1, 9)", [False, True, None, True]),  # null bound -> null
        ("not between(close, 4, 8)", [True, False, False, True]),
        ("between(1, 1, 1)", [True, True, True, True]),
    ],
)
def test_between_is_inclusive(source, expected):
    assert ev(source, NUMS) == expected


def test_abs():
    assert ev("abs(eps_fy1)", NUMS) == [2.0, 1.5, None, 0.0]
    assert ev("abs(-3)", NUMS) == [3.0, 3.0, 3.0, 3.0]
    assert ev("abs(eps_fy1) < 1.6", NUMS) == [False, True, None, True]


def test_log_is_natural_and_null_for_zero_or_negative():
    df = frame(market_cap=[math.e, 1.0, 0.0, -5.0, None, 1e12])
    out = ev("log(market_cap)", df)
    assert out[:2] == pytest.approx([1.0, 0.0])
    assert out[2:5] == [None, None, None]
    assert out[5] == pytest.approx(12 * math.log(10))
    assert ev("log(market_cap) > 0", df) == [True, False, None, None, None, True]


def test_min_and_max_are_null_when_any_argument_is_null():
    # eps_fy1 = [2, -1.5, None, 0]; eps_fy2 = [3, 0.5, 1, None]; close = [10, 4, 8, 2]
    assert ev("min(eps_fy1, eps_fy2)", NUMS) == [2.0, -1.5, None, None]
    assert ev("max(eps_fy1, eps_fy2)", NUMS) == [3.0, 0.5, None, None]
    assert ev("min(close, 5, 9)", NUMS) == [5.0, 4.0, 5.0, 2.0]
    assert ev("max(close, 5, 9)", NUMS) == [10.0, 9.0, 9.0, 9.0]
    assert ev("max(eps_fy1, eps_fy2, close)", NUMS) == [10.0, 4.0, None, None]
    assert ev("min(eps_fy1, eps_fy2) < 1", NUMS) == [False, True, None, None]


def test_coalesce_takes_the_first_non_null():
    # eps_fy1 = [2, -1.5, None, 0]; eps_fy2 = [3, 0.5, 1, None]
    assert ev("coalesce(eps_fy1, 0)", NUMS) == [2.0, -1.5, 0.0, 0.0]
    assert ev("coalesce(eps_fy2, eps_fy1)", NUMS) == [3.0, 0.5, 1.0, 0.0]
    assert ev("coalesce(eps_fy1, eps_fy2, -1)", NUMS) == [2.0, -1.5, 1.0, 0.0]
    assert ev("coalesce(exposure, 'peripheral')", TEXT) == ["pure", "core", "partial", "peripheral"]
    assert ev("coalesce(listed, false)", TEXT) == [True, True, False, False]


def test_is_null_is_never_null():
    assert ev("is_null(eps_fy1)", NUMS) == [False, False, True, False]
    assert ev("not is_null(eps_fy2)", NUMS) == [True, True, True, False]
    assert ev("is_null(listed)", TEXT) == [False, False, False, True]
    assert ev("is_null(1)", NUMS) == [False, False, False, False]


def test_function_nodes_have_the_documented_kinds():
    assert compile_expr("between(pe_fy1, 10, 40)").kind is Kind.BOOL
    assert compile_expr("abs(revision_1m)").kind is Kind.NUMBER
    assert compile_expr("log(market_cap)").kind is Kind.NUMBER
    assert compile_expr("min(pe_fy1, pe_fy2)").kind is Kind.NUMBER
    assert compile_expr("coalesce(exposure, 'pure')").kind is Kind.TEXT
    assert compile_expr("coalesce(esg_rating, 'BBB')").kind is Kind.GRADE
    assert compile_expr("is_null(esg_rating)").kind is Kind.BOOL
    assert isinstance(compile_expr("is_null(themes)"), Call)


# -- ESG grades compare by rank ----------------------------------------------------------------

GRADES = frame(esg_rating=["AAA", "AA+", "AA", "AA-", "A+", "BBB", "C", None])


@pytest.mark.parametrize(
    "source, expected",
    [
        #                              AAA    AA+    AA     AA-    A+     BBB    C      null
        ("esg_rating >= 'AA-'", [True, True, True, True, False, False, False, None]),
        ("esg_rating > 'AA-'", [True, True, True, False, False, False, False, None]),
        ("esg_rating < 'A+'", [False, False, False, False, False, True, True, None]),
        ("esg_rating <= 'A+'", [False, False, False, False, True, True, True, None]),
        ("esg_rating == 'AA'", [False, False, True, False, False, False, False, None]),
        ("esg_rating != 'AA'", [True, True, False, True, True, True, True, None]),
        ("'AA-' <= esg_rating", [True, True, True, True, False, False, False, None]),  # literal first
        # a rater suffix in the literal is dropped, as it is in the data: 'AA-pi' is 'AA-'
        ("esg_rating >= 'AA-pi'", [True, True, True, True, False, False, False, None]),
        ("esg_rating == 'AA+pi'", [False, True, False, False, False, False, False, None]),
        ("esg_rating in ('AAA', 'AA+pi')", [True, True, False, False, False, False, False, None]),
        ("esg_rating not in ('C',)", [True, True, True, True, True, True, False, None]),
        ("between(esg_rating, 'A+', 'AA')", [False, False, True, True, True, False, False, None]),
        ("'BBB' < esg_rating < 'AA+'", [False, False, True, True, True, False, False, None]),
        ("coalesce(esg_rating, 'C') >= 'BBB'", [True, True, True, True, True, True, False, False]),
        ("is_null(esg_rating)", [False, False, False, False, False, False, False, True]),
    ],
)
def test_grades_compare_by_rank_not_alphabetically(source, expected):
    assert ev(source, GRADES) == expected


def test_grade_literals_become_grades():
    node = compile_expr("esg_rating >= 'AA-pi'")
    assert isinstance(node, Compare)
    assert node.right == Lit(Kind.GRADE, node.right.span, "AA-")


# -- null semantics, collected -------------------------------------------------------------------

ONE_NULL = frame(eps_fy1=[None], exposure=[None], esg_rating=[None], listed=[None], themes=[None])


@pytest.mark.parametrize(
    "source",
    [
        "eps_fy1 > 0", "eps_fy1 == 0", "eps_fy1 != 0", "0 <= eps_fy1", "eps_fy1 + 1", "eps_fy1 * 0",
        "-eps_fy1", "eps_fy1 / 2", "2 / eps_fy1", "exposure == 'pure'", "exposure != 'pure'",
        "esg_rating >= 'AA-'", "not listed", "listed == true", "exposure in ('pure',)",
        "exposure not in ('pure',)", "'quantum' in themes", "'quantum' not in themes",
        "between(eps_fy1, 0, 1)", "abs(eps_fy1)", "log(eps_fy1)", "min(eps_fy1, 1)", "max(1, eps_fy1)",
        "coalesce(eps_fy1, eps_fy1)", "not eps_fy1 > 0", "0 < eps_fy1 < 1",
    ],
)
def test_anything_computed_from_a_null_is_null(source):
    assert ev(source, ONE_NULL) == [None]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("is_null(eps_fy1)", True),
        ("coalesce(eps_fy1, 7)", 7.0),
        ("false and eps_fy1 > 0", False),
        ("true or eps_fy1 > 0", True),
        ("is_null(eps_fy1) or eps_fy1 > 0", True),
    ],
)
def test_null_aware_forms_are_not_null(source, expected):
    assert ev(source, ONE_NULL) == [expected]


# -- expressions on several lines or with leading blanks (TOML multi-line strings) -------------


@pytest.mark.parametrize(
    "source",
    [
        "  close > 4",
        "\tclose > 4",
        "\n    close > 4\n",
        "\r\n    close > 4\r\n",
        "close >\n 4",
        "(close\n >\n 4)",
    ],
)
def test_whitespace_and_newlines_are_blanks(source):
    assert ev(source, NUMS) == [True, False, True, False]


def test_a_hash_inside_text_is_text_even_after_an_escaped_quote():
    df = frame(name=["#1", "it's #1", None])
    assert ev("name == '#1'", df) == [True, False, None]
    assert ev("name == 'it\\'s #1'", df) == [False, True, None]
    assert ev('name == "it\'s #1"', df) == [False, True, None]


def test_error_offsets_count_leading_blanks_and_newlines():
    source = "\n    eps_fy1 > 0\n    and pe_fy11 < 80\n"
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert info.value.code == "unknown-field"
    assert source[info.value.start:info.value.end] == "pe_fy11"


# -- compile-time errors: code and character offsets --------------------------------------------


@pytest.mark.parametrize(
    "source, code, at",
    [
        ("eps_grwth_fy1 > 0", "unknown-field", "eps_grwth_fy1"),
        ("name == '寒武纪' and eps_fy11 > 0", "unknown-field", "eps_fy11"),  # character offsets
        ("名称 == 'x'", "unknown-field", "名称"),
        ("maxx(pe_fy1, 1) > 0", "unknown-function", "maxx"),
        ("max > 1", "not-a-field", "max"),
        ("pe_fy1(1) > 0", "not-a-function", "pe_fy1"),
        ("between(pe_fy1, 1)", "wrong-arguments", "between(pe_fy1, 1)"),
        ("log(pe_fy1, 2) > 0", "wrong-arguments", "log(pe_fy1, 2)"),
        ("min(pe_fy1) > 0", "wrong-arguments", "min(pe_fy1)"),
        ("pe_fy1 < '80'", "type-mismatch", "pe_fy1 < '80'"),
        ("pe_fy1 + 'x' > 0", "type-mismatch", "'x'"),
        ("name > 'a'", "type-mismatch", "name > 'a'"),
        ("listed < true", "type-mismatch", "listed < true"),
        ("not pe_fy1", "type-mismatch", "pe_fy1"),
        ("-name == 'x'", "type-mismatch", "name"),
        ("pe_fy1 and listed", "type-mismatch", "pe_fy1"),
        ("themes == 'quantum'", "type-mismatch", "themes == 'quantum'"),
        ("1 in themes", "type-mismatch", "1"),
        ("pe_fy1 in ('a',)", "type-mismatch", "'a'"),
        ("pe_fy1 in pe_fy2", "type-mismatch", "pe_fy2"),
        ("esg_rating > 3", "type-mismatch", "3"),
        ("esg_score > 'AA'", "type-mismatch", "esg_score > 'AA'"),
        ("coalesce(pe_fy1, 'x') > 0", "type-mismatch", "'x'"),
        ("esg_rating >= 'AX'", "unknown-grade", "'AX'"),
        ("esg_rating >= 'aa-'", "unknown-grade", "'aa-'"),
        ("esg_rating in ('AA', 'Z')", "unknown-grade", "'Z'"),
        ("between(esg_rating, 'A', 'AAAA')", "unknown-grade", "'AAAA'"),
        # a rule's grade carries at most a known rater suffix (data files may carry others)
        ("esg_rating >= 'AA-x'", "unknown-grade", "'AA-x'"),
        ("esg_rating in ('AA', 'AA-pix')", "unknown-grade", "'AA-pix'"),
        ("esg_rating >= ' AA'", "unknown-grade", "' AA'"),
        ("exposure == 'cor'", "unknown-value", "'cor'"),
        ("market in ('CN', 'JP')", "unknown-value", "'JP'"),
        ("exposure in ()", "empty-list", "()"),
        ("exposure in (name,)", "not-allowed", "name"),
        ("listed == True", "unknown-name", "True"),
        ("is_null(None)", "unknown-name", "None"),
        ("pe_fy1 is None", "not-allowed", "pe_fy1 is None"),
        ("pe_fy1 ** 2 > 0", "not-allowed", "pe_fy1 ** 2"),
        ("pe_fy1 % 2 > 0", "not-allowed", "pe_fy1 % 2"),
        ("listed & listed", "not-allowed", "listed & listed"),
        ("pe_fy1.real > 0", "not-allowed", "pe_fy1.real"),
        ("themes[0] == 'x'", "not-allowed", "themes[0]"),
        ("1 if listed else 0", "not-allowed", "1 if listed else 0"),
        ("f'{pe_fy1}' == 'x'", "not-allowed", "f'{pe_fy1}'"),
        ("{'a': 1}", "not-allowed", "{'a': 1}"),
        ("(1, 2)", "not-allowed", "(1, 2)"),
        ("max(*themes)", "not-allowed", "*themes"),
        ("abs(x=1)", "not-allowed", "1"),
        ("~pe_fy1", "not-allowed", "~pe_fy1"),
        ("'quantum' in themes == true", "not-allowed", "'quantum' in themes == true"),
        ("pe_fy1 > 0 # cheap", "syntax", "#"),
        ("pe_fy1 = 0", "syntax", "="),
        ("(pe_fy1 > 0", "syntax", "("),
        ("pe_fy1 > > 0", "syntax", ">"),
        ("'寒武纪' == name and (pe_fy1 > 0", "syntax", "("),
        ("1" + "0" * 400 + " > pe_fy1", "bad-number", "1" + "0" * 400),
        ("pe_fy1 < 1e999", "bad-number", "1e999"),
    ],
)
def test_compile_errors_point_at_the_offending_characters(source, code, at):
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    e = info.value
    assert e.code == code, e
    assert source[e.start:e.end] == at, (e.start, e.end, e.message)
    assert e.message
    assert 0 <= e.start < e.end <= len(source) + 1


@pytest.mark.parametrize("source", ["", "   ", "\n\n"])
def test_an_empty_expression_is_an_error(source):
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert info.value.code == "empty-expression"


def test_a_very_long_expression_is_an_error():
    long = " or ".join(["pe_fy1 > 0"] * 1500)  # 21,000 characters: over the default limit of 20,000
    with pytest.raises(ExprError) as info:
        compile_expr(long)
    assert info.value.code == "too-long" and "[limits] expression_chars" in info.value.hint
    with pytest.raises(ExprError) as info:
        compile_expr(" + ".join(["pe_fy1"] * 400) + " > 0", max_chars=2000)
    assert info.value.code == "too-long"


def test_deep_nesting_is_an_error_not_a_crash():
    # redundant parentheses build no nodes: harmless
    assert ev("(" * 100 + "close" + ")" * 100 + " > 4", NUMS) == [True, False, True, False]
    with pytest.raises(ExprError) as info:
        compile_expr("(" * 300 + "pe_fy1" + ")" * 300)
    assert info.value.code == "syntax"
    with pytest.raises(ExprError) as info:
        compile_expr("not " * 120 + "listed")
    assert info.value.code == "too-complex"
    with pytest.raises(ExprError) as info:
        compile_expr("max(" * 150 + "1" + ", 1)" * 150)
    assert info.value.code == "too-complex"


@pytest.mark.parametrize(
    "source, hint",
    [
        ("eps_grwth_fy1 > 0", "did you mean `eps_growth_fy1`?"),
        ("maxx(pe_fy1, 1) > 0", "did you mean `max`?"),
        ("listed == True", "did you mean `true`?"),
        ("pe_fy1 < '80'", "remove the quotes around '80'"),
        ("esg_rating >= 'aa-'", "did you mean 'AA-'?"),
        ("esg_rating >= 'aa-pi'", "grades are upper case: did you mean 'AA-pi'?"),
        ("esg_rating >= 'AA-x'", "did you mean 'AA-'?"),
        ("esg_rating >= 'AA-pix'", "did you mean 'AA-pi'?"),
        ("esg_rating >= 'AAA+'", "a rater suffix may follow: pi"),
        ("exposure == 'cor'", "did you mean `core`?"),
        ("pe_fy1 = 0", "compare with `==`, not `=`"),
        ("listed & listed", "`and`"),
        ("max > 1", "max(a, b, ...)"),
    ],
)
def test_errors_teach_the_fix(source, hint):
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert info.value.hint and hint in info.value.hint, info.value.hint


def test_referenced_fields_in_first_use_order():
    node = compile_expr("pe_fy1 < 80 and 'quantum' in themes and between(pe_fy1, 0, coalesce(eps_fy1, close))")
    assert referenced_fields(node) == ["pe_fy1", "themes", "eps_fy1", "close"]
    assert referenced_fields(compile_expr("1 > 0")) == []


# -- symbol literals: read by the caller's resolver (rule.py gives it the rule's universes) ---------


def _resolver(text: str) -> str:
    if text == "nope":
        raise LiteralError("unknown-symbol", "'nope' is in none of the rule's universes", "did you mean `NO.US`?")
    return text.upper() + ".X"


def test_symbol_literals_go_through_the_resolver_on_either_side():
    node = compile_expr("symbol in ('a', 'b') and 'c' == symbol and symbol != 'd' and name == 'e'", symbols=_resolver)
    in_list, left, right, other = node.operands
    assert [it.value for it in in_list.items] == ["A.X", "B.X"]
    assert left.left.value == "C.X" and right.right.value == "D.X"
    assert other.right.value == "e"  # only literals compared with `symbol` are symbols
    # without a resolver the literal stays as written
    assert compile_expr("symbol == 'a'").right.value == "a"


def test_a_resolver_problem_points_at_the_literal():
    source = "symbol not in ('a', 'nope')"
    with pytest.raises(ExprError) as info:
        compile_expr(source, symbols=_resolver)
    e = info.value
    assert (e.code, source[e.start:e.end], e.hint) == ("unknown-symbol", "'nope'", "did you mean `NO.US`?")


def test_a_symbol_literal_of_the_wrong_type_is_a_type_error_first():
    with pytest.raises(ExprError) as info:
        compile_expr("symbol > 'nope'", symbols=_resolver)
    assert info.value.code == "type-mismatch"
