"""The ranking primitives on hand-computed cases (screener.engine.ranking)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from screener.engine import ranking


def frame(xs, groups=None, passed=None):
    n = len(xs)
    return pl.DataFrame({
        "symbol": [f"S{i:02d}" for i in range(n)],
        "x": pl.Series(xs, dtype=pl.Float64),
        "g": groups if groups is not None else ["a"] * n,
        "passed": passed if passed is not None else [True] * n,
    })


def col(df, expr):
    return df.select(expr.alias("out"))["out"].to_list()


def test_winsorize_clips_to_numpys_linear_quantiles_per_group():
    xs = [1.0, 2.0, 3.0, 4.0, 100.0, 10.0, 20.0, 30.0]
    groups = ["a"] * 5 + ["b"] * 3
    df = frame(xs, groups)
    got = col(df, ranking.winsorize(pl.col("x"), 0.25, "g"))
    a_lo, a_hi = np.quantile([1, 2, 3, 4, 100], [0.25, 0.75])  # 2.0, 4.0
    b_lo, b_hi = np.quantile([10, 20, 30], [0.25, 0.75])        # 15.0, 25.0
    assert got == pytest.approx([a_lo, 2, 3, a_hi, a_hi, b_lo, 20, b_hi])
    assert col(df, ranking.winsorize(pl.col("x"), None)) == xs


def test_normalise_rank_within_groups_and_nulls_stay_null():
    df = frame([3.0, 1.0, None, 2.0, 5.0], ["a", "a", "a", "b", "b"])
    got = col(df, ranking.normalise(pl.col("x"), "rank", "g"))
    # group a: present 3, 1 -> ranks 2, 1 of 2; group b: 2, 5 -> 1, 2 of 2
    assert got == [1.0, 0.5, None, 0.5, 1.0]


def test_zscore_missing_worst_is_the_groups_smallest_z():
    df = frame([1.0, 2.0, 3.0, None])
    norm = ranking.normalise(pl.col("x"), "zscore")
    filled = ranking.fill_missing(norm, "zscore", "worst", pl.col("passed"))
    # mean 2, sample std 1: z = -1, 0, 1; the missing one gets -1 (not 0, the average)
    assert col(df, filled) == pytest.approx([-1.0, 0.0, 1.0, -1.0])


def test_zscore_with_one_present_value_is_zero_and_so_is_its_worst():
    df = frame([7.0, None])
    norm = ranking.normalise(pl.col("x"), "zscore")
    assert col(df, ranking.fill_missing(norm, "zscore", "worst", pl.col("passed"))) == [0.0, 0.0]


def test_missing_worst_under_rank_is_zero_and_mean_is_the_mean_of_present():
    df = frame([1.0, 2.0, 4.0, None])
    norm = ranking.normalise(pl.col("x"), "rank")  # 1/3, 2/3, 1
    assert col(df, ranking.fill_missing(norm, "rank", "worst", pl.col("passed"))) == pytest.approx([1 / 3, 2 / 3, 1, 0])
    assert col(df, ranking.fill_missing(norm, "rank", "mean", pl.col("passed"))) == pytest.approx([1 / 3, 2 / 3, 1, 2 / 3])
    assert col(df, ranking.fill_missing(norm, "rank", "drop", pl.col("passed")))[3] is None


def test_missing_fills_only_masked_rows():
    df = frame([1.0, None, None], passed=[True, True, False])
    norm = ranking.normalise(pl.when(pl.col("passed")).then(pl.col("x")), "rank")
    assert col(df, ranking.fill_missing(norm, "rank", "worst", pl.col("passed"))) == [1.0, 0.0, None]


def test_composite_rescales_weights_over_present_components():
    df = pl.DataFrame({"a": [0.5, None, None], "b": [1.0, 0.25, None]})
    got = col(df, ranking.composite([pl.col("a"), pl.col("b")], [3.0, 1.0]))
    # row 1: (3 * .5 + 1 * 1) / 4; row 2: only b present, weight 1 of 1; row 3: nothing -> 0
    assert got == pytest.approx([0.625, 0.25, 0.0])


def test_ordered_rank_counts_masked_rows_in_frame_order_per_group():
    df = pl.DataFrame({"m": [True, False, True, True, True], "g": ["a", "a", "b", "a", None]})
    assert col(df, ranking.ordered_rank(pl.col("m"))) == [1, None, 2, 3, 4]
    assert col(df, ranking.ordered_rank(pl.col("m"), "g")) == [1, None, 1, 2, 1]


def test_buffer_keeps_an_incumbent_at_rank_12_of_a_top_10_with_keep_15():
    df = pl.DataFrame({"rank": list(range(1, 21)), "elig": [True] * 20, "prev": [r in (3, 12, 16) for r in range(1, 21)]})
    chosen = col(df, ranking.select_top(pl.col("elig"), 10, 15, pl.col("prev")))
    picked = [r for r, c in zip(range(1, 21), chosen) if c]
    # incumbents within 15: ranks 3 and 12 stay; 16 is outside keep; 8 more from the best others
    assert picked == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]


def test_buffer_never_keeps_more_than_top():
    df = pl.DataFrame({"rank": list(range(1, 11)), "elig": [True] * 10, "prev": [True] * 10})
    chosen = col(df, ranking.select_top(pl.col("elig"), 3, 8, pl.col("prev")))
    assert chosen == [True] * 3 + [False] * 7


def test_top_per_group_with_a_group_smaller_than_top():
    df = pl.DataFrame({"g": ["a", "b", "a", "a", "c", "b"], "elig": [True] * 6})
    got = col(df, ranking.select_top(pl.col("elig"), 2, group="g"))
    # a: first two of three; b: both; c: its only one
    assert got == [True, True, True, False, True, True]


def test_ineligible_rows_never_take_a_slot():
    df = pl.DataFrame({"elig": [False, True, True, True]})
    assert col(df, ranking.select_top(pl.col("elig"), 2)) == [False, True, True, False]
