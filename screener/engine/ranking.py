"""Ranking primitives: small polars expressions a screen (one date) and a backtest (many dates)
both build on. Each takes a `mask` (the rows it works over; others get null) and an optional
`group` (a column name: each group is handled on its own; null is a group of its own).

- `winsorize(x, q)`: clip to the q and 1 - q quantiles of the present values (linear
  interpolation, numpy's default);
- `normalise(x, how)`: `rank` = average rank / number of present values (ties share the average
  rank), `zscore` = (x - mean) / sample std (0 when fewer than two values or all equal),
  `minmax` = (x - min) / (max - min) (0.5 when all equal). Nulls stay null;
- `fill_missing(norm, how, missing)`: what a passer without a value scores: `worst` (0 under rank
  and minmax, the group's smallest z under zscore), `mean` (the mean of the present normalised
  values) or `drop` (stays null; `composite` then rescales that row's weights);
- `composite(norms, weights)`: the weighted sum, weights rescaled per row over the components
  present (so only `drop` ever rescales); a row with every component dropped scores 0;
- `ordered_rank(mask, group)`: 1, 2, ... over the masked rows in frame order, within each group.
  The frame must already be sorted best first (composite descending, then symbol);
- `select_top(...)`: the first `top` (per group), with an optional buffer `keep` against a
  previous watchlist, not counting rows excluded from the slots (pins).
"""

from __future__ import annotations

import polars as pl

NORMALIZERS = ("rank", "zscore", "minmax")
MISSING = ("worst", "mean", "drop")


def _over(e: pl.Expr, group: str | None) -> pl.Expr:
    return e.over(group) if group else e


def winsorize(x: pl.Expr, q: float | None, group: str | None = None) -> pl.Expr:
    """`x` clipped to its q and 1 - q quantiles (per group); unchanged when q is None or 0."""
    if not q:
        return x
    lo = _over(x.quantile(q, interpolation="linear"), group)
    hi = _over(x.quantile(1 - q, interpolation="linear"), group)
    return pl.when(x < lo).then(lo).when(x > hi).then(hi).otherwise(x)


def normalise(x: pl.Expr, how: str, group: str | None = None) -> pl.Expr:
    """`x` (null outside the mask) normalised per group; null where x is null."""
    if how == "rank":
        return _over(x.rank("average"), group) / _over(x.count(), group)
    if how == "zscore":
        std, mean = _over(x.std(ddof=1), group), _over(x.mean(), group)
        return pl.when(x.is_not_null()).then(
            pl.when(std > 0).then((x - mean) / std).otherwise(pl.lit(0.0)))
    if how == "minmax":
        lo, hi = _over(x.min(), group), _over(x.max(), group)
        return pl.when(x.is_not_null()).then(
            pl.when(hi > lo).then((x - lo) / (hi - lo)).otherwise(pl.lit(0.5)))
    raise ValueError(f"unknown normaliser {how!r}")  # rule.py only admits NORMALIZERS


def fill_missing(norm: pl.Expr, how: str, missing: str, mask: pl.Expr, group: str | None = None) -> pl.Expr:
    """`norm` with a value for the masked rows that have none (see the module docstring).
    A group with no present value at all gives 0 under `worst` and `mean`."""
    if missing == "drop":
        return norm
    if missing == "worst":
        fill = pl.lit(0.0) if how != "zscore" else _over(norm.min(), group).fill_null(0.0)
    elif missing == "mean":
        fill = _over(norm.mean(), group).fill_null(0.0)
    else:
        raise ValueError(f"unknown missing policy {missing!r}")
    return pl.when(mask).then(norm.fill_null(fill))


def composite(norms: list[pl.Expr], weights: list[float]) -> pl.Expr:
    """Weighted sum of the components present in each row, weights rescaled over them (weights
    as written, any scale). A row with no component present scores 0."""
    total = pl.sum_horizontal([n.is_not_null().cast(pl.Float64) * w for n, w in zip(norms, weights)])
    summed = pl.sum_horizontal([n.fill_null(0.0) * w for n, w in zip(norms, weights)])
    return pl.when(total > 0).then(summed / total).otherwise(pl.lit(0.0))


def ordered_rank(mask: pl.Expr, group: str | None = None) -> pl.Expr:
    """1, 2, ... over the masked rows in frame order (per group); null elsewhere."""
    return pl.when(mask).then(_over(mask.cast(pl.UInt32).cum_sum(), group))


def select_top(eligible: pl.Expr, top: int | None, keep: int | None = None, incumbent: pl.Expr | None = None,
               group: str | None = None) -> pl.Expr:
    """Which `eligible` rows fill the `top` slots (per group); frame sorted best first.

    Positions count eligible rows only (pinned rows are not eligible: they never take a slot and
    never push another row out of one). Without a buffer: the first `top` eligible rows. With
    `keep = K` and `incumbent` (in the previous watchlist): first the incumbents whose position is
    within K, best first, up to `top`; then the best others until there are `top`. No `top`:
    every eligible row."""
    if top is None:
        return eligible
    position = ordered_rank(eligible, group)
    if keep is None or incumbent is None:
        return eligible & (position <= top)
    candidate = eligible & incumbent & (position <= keep)
    kept = candidate & (ordered_rank(candidate, group) <= top)
    n_kept = _over(kept.cast(pl.Int64).sum(), group)
    others = eligible & kept.not_()
    return kept | (others & (ordered_rank(others, group).cast(pl.Int64) <= top - n_kept))
