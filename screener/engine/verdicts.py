"""Every member's verdict, and the words for it, in one place: exports, the history, its diffs,
`explain` and `screener test` all read this table instead of wording verdicts themselves.

Built with polars expressions once per result, never a per-member Python loop: a whole-market
screen has a million excluded members.
"""

from __future__ import annotations

import polars as pl

#: the failed-filter name an `exclude` pin reports (a reserved filter name)
PIN_FILTER = "pin"


def verdict_table(result) -> pl.DataFrame:
    """One row per member, by symbol: symbol, name, included, passed, rank, group_rank, score,
    failed and missing (lists of filter names in the rule's order: "unlisted" for an unlisted
    member, "pin" last for an exclude pin), components (struct of `score.*` by name), pinned,
    pin_reason, kept (in by the buffer rather than by plain rank) and reason:

    - out: "unlisted"; "failed growing, cheap (missing data: cheap)"; "excluded by pin: <reason>";
      "rank 7, below top 5"; with `per`: "rank 2 in industry 计算机, below top 1 per industry";
      a previous member past the buffer: "rank 17, outside keep 15"; a passer within `top` whose
      place went to a member kept by the buffer: "rank 10, its place taken by a member kept by the
      buffer (keep 15)";
    - in: "pinned: <reason>"; "kept by the buffer (rank 12, keep 15)"; null when in by rank.
    """
    screen = result.screen
    top, keep, per = screen.top, screen.keep, screen.per
    none = pl.concat_list([pl.lit(None, dtype=pl.String)]).list.drop_nulls()

    def names_where(conditions: list[tuple[pl.Expr, str]]) -> pl.Expr:
        if not conditions:
            return none
        return pl.concat_list([pl.when(c).then(pl.lit(n)).otherwise(pl.lit(None, dtype=pl.String))
                               for c, n in conditions]).list.drop_nulls()

    cols = [(result.filter_col(i), f.name) for i, f in enumerate(screen.filters)]
    frame = result.frame.with_columns(
        _name_lists(result.frame, [(pl.col(c).fill_null(False).not_(), n) for c, n in cols]
                    + [(pl.col("_pin_excluded"), PIN_FILTER)], names_where).alias("_failed_names"),
        _name_lists(result.frame, [(pl.col(c).is_null(), n) for c, n in cols], names_where).alias("_missing_names"))
    failed, missing = pl.col("_failed_names"), pl.col("_missing_names")
    listed = pl.col("listed").fill_null(False)
    failed = pl.when(listed).then(failed).otherwise(pl.concat_list([pl.lit("unlisted")]))
    missing = pl.when(listed).then(missing).otherwise(none)
    components = (pl.struct([pl.col(result.norm_col(i)).alias(s.name) for i, s in enumerate(screen.scores)])
                  if screen.scores else pl.lit(None, dtype=pl.Struct({})))
    extra = [pl.col(per).cast(pl.String).alias("_group")] if per else [pl.lit(None, dtype=pl.String).alias("_group")]
    previous = result.previous
    was_member = (pl.col("symbol").is_in(pl.Series(sorted(previous.symbols), dtype=pl.String).implode())
                  if previous is not None else pl.lit(False))
    table = frame.select(
        "symbol", "name", "listed", pl.col("_included").alias("included"), pl.col("_passed").alias("passed"),
        "rank", "group_rank", "score", failed.alias("failed"), missing.alias("missing"),
        components.alias("components"), "pinned", "pin_reason", pl.col("_kept").alias("kept"),
        was_member.alias("_was_member"), *extra)

    has_missing = pl.col("missing").list.len() > 0
    rank_txt = pl.col("rank").cast(pl.String)
    if per:
        group_txt = pl.coalesce(pl.col("_group"), pl.lit("(none)"))
        position = pl.concat_str([pl.lit("rank "), pl.col("group_rank").cast(pl.String), pl.lit(f" in {per} "), group_txt])
        below = pl.lit(f", below top {top} per {per}")
    else:
        position = pl.concat_str([pl.lit("rank "), rank_txt])
        below = pl.lit(f", below top {top}")
    if keep is not None:
        place = pl.col("group_rank" if per else "rank")
        below = (pl.when(pl.col("_was_member") & (place > keep)).then(pl.lit(f", outside keep {keep}"))
                 .when(place <= top).then(pl.lit(f", its place taken by a member kept by the buffer (keep {keep})"))
                 .otherwise(below))
        kept_txt = pl.concat_str([pl.lit("kept by the buffer ("), position, pl.lit(f", keep {keep})")])
    else:
        kept_txt = pl.lit(None, dtype=pl.String)
    reason = (
        pl.when(pl.col("included") & pl.col("pinned")).then(pl.concat_str([pl.lit("pinned: "), pl.col("pin_reason")]))
        .when(pl.col("included") & pl.col("kept")).then(kept_txt)
        .when(pl.col("included")).then(pl.lit(None, dtype=pl.String))
        .when(listed.not_()).then(pl.lit("unlisted"))
        .when(pl.col("failed").list.contains(PIN_FILTER)).then(pl.concat_str([pl.lit("excluded by pin: "),
                                                                              pl.col("pin_reason")]))
        .when(pl.col("failed").list.len() > 0).then(pl.concat_str([
            pl.lit("failed "), pl.col("failed").list.join(", "),
            pl.when(has_missing).then(pl.concat_str([pl.lit(" (missing data: "), pl.col("missing").list.join(", "),
                                                     pl.lit(")")])).otherwise(pl.lit("")),
        ]))
        .otherwise(pl.concat_str([position, below]))
    )
    return table.with_columns(reason.alias("reason")).drop("listed", "_group", "_was_member").sort("symbol")


def _name_lists(frame: pl.DataFrame, conditions: list[tuple[pl.Expr, str]], names_where) -> pl.Series:
    """Per row, the names whose condition holds, in order (a list column). Built from a bit mask
    per row and one small table of the distinct masks: a whole market has a handful of distinct
    combinations, and building a list per row with `concat_list` costs 0.4 s at 200,000 rows.
    Over 62 conditions (a mask would not fit in 64 bits) the lists are built row by row."""
    if not conditions:
        return frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("_l"))["_l"]
    if len(conditions) > 62:
        return frame.with_columns(names_where(conditions).alias("_l"))["_l"]
    mask = frame.select(pl.sum_horizontal([pl.when(c).then(pl.lit(1 << i, dtype=pl.Int64))
                                           .otherwise(pl.lit(0, dtype=pl.Int64))
                                           for i, (c, _) in enumerate(conditions)]).alias("m"))
    distinct = mask["m"].unique().to_list()
    table = pl.DataFrame({"m": distinct, "l": [[n for i, (_, n) in enumerate(conditions) if m >> i & 1]
                                                for m in distinct]},
                         schema={"m": pl.Int64, "l": pl.List(pl.String)})
    return mask.join(table, on="m", how="left", maintain_order="left")["l"]
