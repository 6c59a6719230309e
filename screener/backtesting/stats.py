"""The statistics of a backtest, as DESIGN.md "Backtests" defines them, on plain Python lists
(a period has at most a few thousand passers). Ranks, correlations and means are computed with
polars and `math.fsum`: in pure Python they were a fifth of a 60-date backtest over 5,000
securities (bench/backtest_bench.py); tests/test_backtest.py holds every figure to scipy and
pandas within 1e-9.

Nulls: every function skips pairs with a missing value where the definition says so and returns
None (JSON null) where a figure is undefined: an IC under 3 pairs or with a constant series, an
IR with fewer than two ICs or a zero deviation, an empty bucket.
"""

from __future__ import annotations

import math
from statistics import mean, stdev

import polars as pl


def average_ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing the average rank (pandas' `rank(method="average")`)."""
    return pl.Series(values, dtype=pl.Float64).rank("average").to_list()


def pearson(x: list[float], y: list[float]) -> float | None:
    n = len(x)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    dx, dy = [a - mx for a in x], [b - my for b in y]
    sxx, syy = math.fsum(a * a for a in dx), math.fsum(b * b for b in dy)
    if sxx == 0 or syy == 0:
        return None
    return math.fsum(a * b for a, b in zip(dx, dy)) / math.sqrt(sxx * syy)


def spearman(x: list[float | None], y: list[float | None]) -> float | None:
    """Spearman's rank correlation over the pairs where both are present: the Pearson
    correlation of their average ranks (scipy's `spearmanr`). None under 3 pairs or when either
    series is constant."""
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if len(pairs) < 3:
        return None
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return pearson(average_ranks(xs), average_ranks(ys))


def bucket_returns(returns_best_first: list[float], buckets: int) -> list[float | None]:
    """Mean return per bucket: the i-th (0-based) of n securities, ordered best first, is in
    bucket floor(i * B / n); an empty bucket is None."""
    n = len(returns_best_first)
    groups: list[list[float]] = [[] for _ in range(buckets)]
    for i, r in enumerate(returns_best_first):
        groups[i * buckets // n].append(r)
    return [math.fsum(g) / len(g) if g else None for g in groups]


def information_ratio(ics: list[float | None]) -> float | None:
    """Mean over sample standard deviation of the non-null ICs; None with fewer than two or a
    zero deviation."""
    xs = [x for x in ics if x is not None]
    if len(xs) < 2:
        return None
    sd = stdev(xs)
    return mean(xs) / sd if sd > 0 else None


def mean_or_none(xs: list[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return math.fsum(xs) / len(xs) if xs else None


def cumulative(returns: list[float | None]) -> float:
    """Product of (1 + r) - 1; a null period counts as 0."""
    w = 1.0
    for r in returns:
        w *= 1 + (r or 0.0)
    return w - 1


def max_drawdown(returns: list[float | None]) -> float:
    """W_0 = 1 before the first period, W_k compounded (a null period counts as 0); the minimum
    over k of W_k / max_{j<=k} W_j - 1; 0 when it never falls."""
    w = peak = 1.0
    worst = 0.0
    for r in returns:
        w *= 1 + (r or 0.0)
        peak = max(peak, w)
        worst = min(worst, w / peak - 1)
    return worst


def hit_rate(watchlist: list[float | None], benchmark: list[float | None]) -> float | None:
    """Share of the periods with a watchlist return whose return beat the benchmark's (a period
    with no benchmark return counts as not beating it)."""
    counted = [(w, b) for w, b in zip(watchlist, benchmark) if w is not None]
    if not counted:
        return None
    return sum(1 for w, b in counted if b is not None and w > b) / len(counted)
