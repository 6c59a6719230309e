"""Run a checked `Screen` over universes and a snapshot as of a date.

1. members: the union of the screen's universes (one row per symbol; `themes`, highest exposure);
2. fields: every catalogue field the rule and the outputs read, point in time (`screener.engine.derive`);
3. filters: each compiled to a polars expression (column `filter.<name>`); a null result is false
   and remembered as "missing"; unlisted members never pass; an `exclude` pin fails a filter named
   `pin`;
4. scores: each component (`raw.<name>`) is winsorised, normalised and given its `missing` value
   over the passers, per `within` group (`screener.engine.ranking`); `higher_is_better = false`
   negates it first; a NaN or infinite value counts as missing. Column `score.<name>` is the
   value exactly as it enters the composite, rounded to 12 decimals (see 5);
5. composite (`score`) = weighted sum of the components present (weights rescaled per row, which
   only `missing = "drop"` ever needs), rounded to 12 decimals so that equal composites tie
   exactly whatever the summation order;
6. order: composite descending, ties by symbol; `rank` 1..n over passers, `group_rank` within the
   `per` group; the watchlist is the first `top` (per group), with the `keep` buffer against the
   previous watchlist, plus the `include` pins (which never take a slot).

Steps 2-6 are one lazy polars query, collected once (derive materialises two intermediate
tables it would otherwise recompute; see its docstring). The verdicts and their reasons in words
are `screener.engine.verdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, timedelta

import polars as pl

from screener.config import Config
from screener.data.snapshot import Snapshot, load_members
from screener.engine import ranking
from screener.engine.derive import derive_fields
from screener.engine.polars_backend import to_polars
from screener.rules.rule import Screen

KEY_FIELDS = ("esg_rating", "eps_fy1", "eps_growth_fy1", "pe_fy1")
SCORE_DECIMALS = 12


@dataclass(frozen=True)
class Previous:
    """The previous watchlist P a buffer (`keep`) compares against: the run recorded for the same
    rule with the newest as-of before this one (`run_id` None in a backtest, where P is the
    previous period's watchlist)."""

    as_of: date
    symbols: frozenset[str]
    run_id: int | None = None


@dataclass(frozen=True)
class ScreenResult:
    """Every member with its fields, filter verdicts, components and rank."""

    screen: Screen
    as_of: date
    frame: pl.DataFrame  # passers by composite first, then the rest by symbol
    snapshot: Snapshot
    warnings: tuple[str, ...] = field(default=())
    previous: Previous | None = None  # the P a buffered rule compared against (None: plain top)

    @property
    def included(self) -> pl.DataFrame:
        """The watchlist in output order: scored rows by composite, then pinned rows without a
        score, by symbol."""
        return self.frame.filter(pl.col("_included"))

    @property
    def excluded(self) -> pl.DataFrame:
        return self.frame.filter(pl.col("_included").not_())

    @property
    def passers(self) -> int:
        return int(self.frame["_passed"].sum())

    @cached_property
    def verdicts(self) -> pl.DataFrame:
        """Every member's verdict, by symbol (`screener.engine.verdicts.verdict_table`)."""
        from screener.engine.verdicts import verdict_table

        return verdict_table(self)

    def filter_col(self, i: int) -> str:
        return filter_column(self.screen.filters[i].name)

    def raw_col(self, i: int) -> str:
        return raw_column(self.screen.scores[i].name)

    def norm_col(self, i: int) -> str:
        return score_column(self.screen.scores[i].name)


def filter_column(name: str) -> str:
    return f"filter.{name}"


def raw_column(name: str) -> str:
    return f"raw.{name}"


def score_column(name: str) -> str:
    return f"score.{name}"


def run_screen(screen: Screen, config: Config, snapshot: Snapshot, as_of: date, members: pl.DataFrame | None = None,
               all_fields: bool = False, previous: Previous | None = None) -> ScreenResult:
    """Screen `screen`'s universes as of `as_of`. Raises `InputError` on a bad universe file.

    By default only what the rule and the outputs read is computed (the revision look-backs are
    skipped unless the rule uses them); `all_fields=True` computes every catalogue field.
    `previous` is the watchlist a `keep` buffer compares against; it is ignored (and not
    reported) when the rule has no `keep`."""
    needed = None if all_fields else set(screen.fields()) | set(KEY_FIELDS)
    if members is None:
        members = load_members(config.universes_dir, screen.universes, config.display, as_of=as_of)
    if screen.keep is None:
        previous = None
    lf = derive_fields(members, snapshot, as_of, config.esg_raters, config.exposure_scores, needed)
    lf = apply_screen(screen, lf, as_of, previous)
    frame = lf.collect()
    warnings = _warnings(snapshot) + _staleness(frame, as_of, config) + _pin_warnings(screen, frame, as_of)
    return ScreenResult(screen, as_of, frame, snapshot, tuple(warnings), previous)


def apply_screen(screen: Screen, lf: pl.LazyFrame, as_of: date, previous: Previous | None = None) -> pl.LazyFrame:
    """Filters, components, composite, order, ranks and the watchlist over a frame of fields
    (one row per member). Adds `filter.*`, `raw.*`, `score.*`, `score`, `rank`, `group_rank`,
    `pinned`, `pin_reason`, `_pin_excluded`, `_passed`, `_kept` and `_included`, and sorts the
    frame: passers by composite (ties by symbol), then the rest by symbol.

    The two steps, `score_components` then `rank_members`, are public so that a sweep can score
    the components once for every variant that only changes weights, `top`, `keep` or `per`."""
    return rank_members(screen, score_components(screen, lf, as_of), as_of, previous)


def score_components(screen: Screen, lf: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The first step of `apply_screen`: `filter.*`, `raw.*`, pins, `_passed` and each component's
    normalised value `score.*`. Reads the filters, the pins and the components' definitions, never
    the weights, `top`, `keep` or `per`."""
    pins = [p for p in screen.pins if p.active(as_of)]
    include = {p.symbol: p.reason for p in pins if p.action == "include"}
    exclude = {p.symbol: p.reason for p in pins if p.action == "exclude"}
    symbol = pl.col("symbol")

    filters = [to_polars(f.node).alias(filter_column(f.name)) for f in screen.filters]
    raws = [to_polars(s.node).cast(pl.Float64).alias(raw_column(s.name)) for s in screen.scores]
    reasons = {**include, **exclude}
    lf = lf.with_columns(
        *filters, *raws,
        _in(symbol, include).alias("pinned"),
        _in(symbol, exclude).alias("_pin_excluded"),
        (symbol.replace_strict(list(reasons), list(reasons.values()), default=None, return_dtype=pl.String)
         if reasons else pl.lit(None, dtype=pl.String)).alias("pin_reason"),
    )
    passed = pl.col("listed").fill_null(False) & pl.col("_pin_excluded").not_()
    for f in screen.filters:
        passed = passed & pl.col(filter_column(f.name)).fill_null(False)
    lf = lf.with_columns(passed.alias("_passed"))

    mask = pl.col("_passed")
    norms = []
    for s in screen.scores:
        raw = pl.col(raw_column(s.name))
        x = pl.when(mask & raw.is_finite()).then(raw if s.higher_is_better else -raw)
        within = s.within
        x = ranking.winsorize(x, s.winsorize, within)
        norm = ranking.normalise(x, s.normalize, within)
        norm = ranking.fill_missing(norm, s.normalize, s.missing, mask, within)
        # rounded like the composite: a group's mean and deviation must not depend on row order
        norms.append(norm.round(SCORE_DECIMALS).alias(score_column(s.name)))
    return lf.with_columns(norms)


def rank_members(screen: Screen, lf: pl.LazyFrame, as_of: date, previous: Previous | None = None) -> pl.LazyFrame:
    """The second step of `apply_screen`, over `score_components`' frame: the composite, the order,
    the ranks and the watchlist (`top`, `keep` against `previous`, `per`, pins never take a slot)."""
    per = screen.per
    keep = screen.keep
    symbol = pl.col("symbol")
    mask = pl.col("_passed")
    if screen.scores:
        composite = ranking.composite([pl.col(score_column(s.name)) for s in screen.scores],
                                      [s.weight for s in screen.scores])
        lf = lf.with_columns(pl.when(mask).then(composite.round(SCORE_DECIMALS)).alias("score"))
    else:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    lf = lf.sort(["_passed", "score", "symbol"], descending=[True, True, False], nulls_last=True)

    eligible = mask & pl.col("pinned").not_()
    incumbent = _in(symbol, previous.symbols) if previous is not None and keep is not None else None
    selected = ranking.select_top(eligible, screen.top, keep, incumbent, per).fill_null(False)
    plain = ranking.select_top(eligible, screen.top, group=per).fill_null(False)
    group_rank = ranking.ordered_rank(mask, per) if per else pl.lit(None, dtype=pl.UInt32)
    return lf.with_columns(
        ranking.ordered_rank(mask).cast(pl.Int64).alias("rank"),
        group_rank.cast(pl.Int64).alias("group_rank"),
        (selected & plain.not_()).alias("_kept"),
        (selected | pl.col("pinned")).alias("_included"),
    )


def _in(col: pl.Expr, values) -> pl.Expr:
    values = list(values)
    if not values:
        return pl.lit(False)
    return col.is_in(pl.Series(values, dtype=pl.String).implode())


def data_dates(frame: pl.DataFrame) -> dict[str, str | None]:
    """The newest prices, consensus and ESG dates the result used (None when it used none)."""
    out = {}
    for key, col in (("prices_as_of", "price_as_of"), ("consensus_as_of", "consensus_as_of"), ("esg_as_of", "esg_as_of")):
        newest = frame[col].max() if col in frame.columns else None
        out[key] = newest.isoformat() if newest is not None else None
    return out


def _staleness(frame: pl.DataFrame, as_of: date, config: Config) -> list[str]:
    """Warnings when the newest price or consensus used is older than `[freshness]` allows, and
    how many listed members carry older data than that."""
    listed = frame.select("listed", "price_as_of", "consensus_as_of").filter(pl.col("listed"))
    out = []
    for what, col, limit in (("price", "price_as_of", config.prices_max_age_days),
                             ("consensus", "consensus_as_of", config.consensus_max_age_days)):
        dates = listed[col].drop_nulls()
        if dates.is_empty():
            continue
        newest = dates.max()
        age = (as_of - newest).days
        stale = int((dates < as_of - timedelta(days=limit)).sum())
        if age > limit:
            out.append(f"the newest {what} data is from {newest} ({age} days before {as_of}; [freshness] allows "
                       f"{limit}): refresh the snapshot or pass an earlier --as-of")
        elif stale:
            out.append(f"{stale} of {listed.height} listed members have {what} data older than {limit} days")
    return out


def _warnings(snapshot: Snapshot) -> list[str]:
    missing = [n for n in ("consensus", "prices", "esg") if snapshot.get(n) is None]
    return [f"no {n} file in {snapshot.folder.name}: the fields it feeds are null" for n in missing]


def _pin_warnings(screen: Screen, frame: pl.DataFrame, as_of: date) -> list[str]:
    """Pins that do nothing at `as_of`: expired, or on a security that is not a member then."""
    out = []
    if not screen.pins:
        return out
    pinned = pl.Series([p.symbol for p in screen.pins], dtype=pl.String)
    members = set(pinned.filter(pinned.is_in(frame["symbol"].implode())).to_list())
    for p in screen.pins:
        if p.until is not None and as_of > p.until:
            out.append(f"the {p.action} pin on {p.symbol} expired on {p.until.isoformat()}: ignored "
                       f"(remove it from {screen.path} or move its `until`)")
        elif p.symbol not in members:
            out.append(f"the {p.action} pin on {p.symbol} is ignored: not a member of "
                       f"{', '.join(screen.universes)} as of {as_of.isoformat()}")
    return out
