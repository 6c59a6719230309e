"""Turn checked rule expressions (`screener.rules.expr` nodes) into polars expressions.

The only module that knows both the rule language and polars; a second backend (SQL) would be a
sibling of this one. Numbers are Float64 everywhere; ESG grades are the grade Enum, so `>=`
follows the grade order. Null handling matches the language's documented semantics.
"""

from __future__ import annotations

import polars as pl

from screener.rules import expr as E
from screener.rules.fields import Kind
from screener.rules.grades import grade_dtype

_GRADE = grade_dtype()


def to_polars(node: E.Node) -> pl.Expr:
    """Compile one checked expression tree into a polars expression over the field frame."""
    if isinstance(node, E.Lit):
        return _lit(node)
    if isinstance(node, E.Ref):
        return pl.col(node.name)
    if isinstance(node, E.Unary):
        inner = to_polars(node.operand)
        return inner.not_() if node.op == "not" else -inner
    if isinstance(node, E.Binary):
        left, right = to_polars(node.left), to_polars(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        # x / 0 is null, not inf: an infinite P/E would otherwise pass `pe > 0` filters
        return pl.when(right != 0).then(left / right)
    if isinstance(node, E.Compare):
        return _compare(node.op, node.left, node.right)
    if isinstance(node, E.BoolOp):
        out = to_polars(node.operands[0])
        for o in node.operands[1:]:
            out = (out & to_polars(o)) if node.op == "and" else (out | to_polars(o))
        return out
    if isinstance(node, E.InList):
        needle = to_polars(node.needle)
        values = [it.value for it in node.items]
        dtype = {Kind.NUMBER: pl.Float64, Kind.TEXT: pl.String, Kind.BOOL: pl.Boolean, Kind.GRADE: _GRADE}[node.needle.kind]
        # `pl.lit(...)` keeps the list a scalar, so a literal needle (`'a' in ('a', 'b')`)
        # still broadcasts over the frame instead of yielding one row
        hit = needle.is_in(pl.lit(pl.Series(values, dtype=dtype)).implode())
        # keep null needles null (so a filter on a missing value is false either way)
        hit = pl.when(needle.is_not_null()).then(hit)
        return hit.not_() if node.negated else hit
    if isinstance(node, E.InField):
        needle = to_polars(node.needle)
        # polars says a null needle is "not contained" (false); keep it null, as for InList,
        # so `name not in themes` on a missing name is not true
        hit = pl.when(needle.is_not_null()).then(pl.col(node.field.name).list.contains(needle))
        return hit.not_() if node.negated else hit
    if isinstance(node, E.Call):
        return _call(node)
    raise TypeError(f"no polars translation for {type(node).__name__}")  # pragma: no cover


_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _compare(op: str, left_node: E.Node, right_node: E.Node) -> pl.Expr:
    left, right = to_polars(left_node), to_polars(right_node)
    # polars 2.1: `<constant>.eq(x)`, where x folds to a constant as well (`min(c, log(0))`,
    # `coalesce(0, c)`), gives one row instead of broadcasting over the frame; with the side
    # that reads a column first it broadcasts. `0 < x` is `x > 0`.
    if not E.referenced_fields(left_node) and E.referenced_fields(right_node):
        op, left, right = _MIRROR[op], right, left
    return {"==": left.eq, "!=": left.ne, "<": left.lt, "<=": left.le, ">": left.gt, ">=": left.ge}[op](right)


def _lit(node: E.Lit) -> pl.Expr:
    if node.kind is Kind.NUMBER:
        return pl.lit(float(node.value), dtype=pl.Float64)
    if node.kind is Kind.GRADE:
        return pl.lit(node.value, dtype=_GRADE)
    if node.kind is Kind.BOOL:
        return pl.lit(bool(node.value), dtype=pl.Boolean)
    return pl.lit(node.value, dtype=pl.String)


def _call(node: E.Call) -> pl.Expr:
    args = [to_polars(a) for a in node.args]
    name = node.func
    if name == "between":
        x, lo, hi = node.args
        return _compare(">=", x, lo) & _compare("<=", x, hi)
    if name == "abs":
        return args[0].abs()
    if name == "log":
        return pl.when(args[0] > 0).then(args[0].log())
    if name in ("min", "max"):
        any_null = pl.any_horizontal([a.is_null() for a in args])
        value = pl.min_horizontal(args) if name == "min" else pl.max_horizontal(args)
        return pl.when(any_null.not_()).then(value)
    if name == "coalesce":
        return pl.coalesce(args)
    if name == "is_null":
        return args[0].is_null()
    raise TypeError(name)  # pragma: no cover
