"""Run a checked `Screen` over universes and a snapshot as of a date.

1. members: the union of the screen's universes (one row per symbol; `themes`, highest exposure);
2. fields: every catalogue field, point in time (`screener.engine.derive`);
3. filters: each compiled to a polars expression; a null result is false and remembered as
   "missing"; unlisted members never pass (reason "unlisted");
4. scores: each component normalised over the securities that passed every filter:
   - `rank` (default): average rank / number of non-null values, in (0, 1]; ties share the
     average rank;
   - `zscore`: (x - mean) / std; 0 when std is 0 or undefined (one passer);
   - `minmax`: (x - min) / (max - min); 0.5 when all values are equal;
   `higher_is_better = false` ranks the negated value. A null component contributes 0;
5. composite = sum of weight (scaled to sum to 1) x normalised component, rounded to 12 decimals
   so that equal composites tie exactly whatever the summation order;
6. order: composite descending, ties by symbol ascending; `rank` 1..n over passers; `top` N
   keeps ranks <= N.

Steps 2-6 are one lazy polars query, collected once (derive materialises two intermediate
tables it would otherwise recompute; see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, timedelta

import polars as pl

from screener.config import Config
from screener.data.snapshot import Snapshot, load_members
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
    frame: pl.DataFrame  # passers by rank first, then the rest by symbol
    snapshot: Snapshot
    warnings: tuple[str, ...] = field(default=())

    @property
    def included(self) -> pl.DataFrame:
        return self.frame.filter(pl.col("_included"))

    @property
    def excluded(self) -> pl.DataFrame:
        return self.frame.filter(pl.col("_included").not_())

    @cached_property
    def verdicts(self) -> pl.DataFrame:
        """Every member's verdict, by symbol: included, passed, rank, score, the filters it failed
        and those it lacked data for (lists), and for excluded members the reason in words.
        Computed once per result, as columns (see `report.verdict_table`)."""
        from screener.outputs.report import verdict_table

        return verdict_table(self)

    def filter_col(self, i: int) -> str:
        return f"_f{i}"

    def raw_col(self, i: int) -> str:
        return f"_raw{i}"

    def norm_col(self, i: int) -> str:
        return f"_norm{i}"

    def failed_filters(self, row: dict) -> tuple[list[str], list[str]]:
        """(names of filters that are false or missing, names of those that are missing)."""
        failed, missing = [], []
        for i, f in enumerate(self.screen.filters):
            v = row[self.filter_col(i)]
            if v is None:
                failed.append(f.name)
                missing.append(f.name)
            elif v is False:
                failed.append(f.name)
        return failed, missing


def run_screen(screen: Screen, config: Config, snapshot: Snapshot, as_of: date, members: pl.DataFrame | None = None,
               all_fields: bool = False, previous: Previous | None = None) -> ScreenResult:
    """Screen `screen`'s universes as of `as_of`. Raises `InputError` on a bad universe file.

    By default only what the rule and the outputs read is computed (the revision look-backs are
    skipped unless the rule uses them); `all_fields=True` computes every catalogue field."""
    needed = None if all_fields else set(screen.fields()) | set(KEY_FIELDS)
    if members is None:
        members = load_members(config.universes_dir, screen.universes, config.display)
    lf = derive_fields(members, snapshot, as_of, config.esg_raters, config.exposure_scores, needed)
    lf = _apply(screen, lf)
    frame = lf.collect()
    return ScreenResult(screen, as_of, frame, snapshot, tuple(_warnings(snapshot) + _staleness(frame, as_of, config)))


def _apply(screen: Screen, lf: pl.LazyFrame) -> pl.LazyFrame:
    filters = [to_polars(f.node).alias(f"_f{i}") for i, f in enumerate(screen.filters)]
    raws = [to_polars(s.node).cast(pl.Float64).alias(f"_raw{i}") for i, s in enumerate(screen.scores)]
    lf = lf.with_columns(*filters, *raws)
    passed = pl.col("listed").fill_null(False)
    for i in range(len(screen.filters)):
        passed = passed & pl.col(f"_f{i}").fill_null(False)
    lf = lf.with_columns(passed.alias("_passed"))
    # a NaN or infinite raw value (a log of a huge ratio...) counts as missing, never as best
    norms = []
    for i, s in enumerate(screen.scores):
        raw = pl.col(f"_raw{i}")
        masked = pl.when(pl.col("_passed") & raw.is_finite()).then(raw if s.higher_is_better else -raw)
        norms.append(_normalise(masked, s.normalize).alias(f"_norm{i}"))
    lf = lf.with_columns(norms)
    if screen.scores:
        composite = pl.sum_horizontal(
            [pl.col(f"_norm{i}").fill_null(0.0) * w for i, w in enumerate(screen.weights)])
        # rounded so that composites equal in exact arithmetic tie exactly (summation order must not
        # decide between two securities: ties break by symbol)
        lf = lf.with_columns(pl.when(pl.col("_passed")).then(composite.round(SCORE_DECIMALS)).alias("score"))
    else:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    lf = lf.sort(["_passed", "score", "symbol"], descending=[True, True, False], nulls_last=True)
    lf = lf.with_columns(pl.when(pl.col("_passed")).then(pl.int_range(1, pl.len() + 1)).alias("rank"))
    included = pl.col("_passed")
    if screen.top is not None:
        included = included & (pl.col("rank") <= screen.top)
    return lf.with_columns(included.alias("_included"))


def _normalise(x: pl.Expr, how: str) -> pl.Expr:
    if how == "rank":
        return x.rank("average") / x.count()
    if how == "zscore":
        std = x.std()
        return pl.when(x.is_not_null()).then(
            pl.when(std > 0).then((x - x.mean()) / std).otherwise(pl.lit(0.0)))
    if how == "minmax":
        lo, hi = x.min(), x.max()
        return pl.when(x.is_not_null()).then(
            pl.when(hi > lo).then((x - lo) / (hi - lo)).otherwise(pl.lit(0.5)))
    raise ValueError(how)  # pragma: no cover - rule.py only admits these three


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
    listed = frame.filter(pl.col("listed"))
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
