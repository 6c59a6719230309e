"""`screener.screen(...)`: the watchlist as a polars frame with named columns (DESIGN.md "Python
API"), P read only from a history folder given to it, and exports pandas can read."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

AS_OF = "2026-11-20"  # the sample snapshot's newest price date


def test_screen_columns_are_named_after_the_rules_filters_and_scores(sample, monkeypatch):
    monkeypatch.chdir(sample)
    import screener

    assert "screen" in screener.__all__
    frame = screener.screen("rules/esg_compute_leaders.toml")
    assert isinstance(frame, pl.DataFrame) and 0 < frame.height <= 10  # [output] top = 10
    n = frame.height
    named = ["filter.rated", "filter.profitable", "filter.growing",
             "score.earnings", "score.esg", "score.exposure", "score.value",
             "raw.earnings", "raw.esg", "raw.exposure", "raw.value", "score", "rank", "pinned"]
    start = frame.columns.index("filter.rated")
    assert frame.columns[start:start + len(named)] == named
    assert frame.columns[start + len(named):] == ["pin_reason"]
    fields = frame.columns[:start]
    assert fields[:2] == ["symbol", "name"]
    assert {"esg_rating", "eps_fy1", "eps_growth_fy1", "pe_fy1", "analysts", "revision_3m"} <= set(fields)
    assert not any(c.startswith("_") for c in frame.columns)
    schema = frame.schema
    assert all(schema[c] == pl.Boolean for c in named[:3]) and schema["pinned"] == pl.Boolean
    assert schema["rank"] == pl.Int64 and schema["analysts"] == pl.Int64 and schema["score"] == pl.Float64
    assert frame["rank"].to_list() == list(range(1, n + 1)) and frame["filter.rated"].all()
    assert frame["score"].is_sorted(descending=True)

    # the same watchlist as `screener run` (the sample's default date: its newest prices)
    from screener import api
    from screener.config import load_config

    cfg = load_config("config.toml")
    (result,) = api.run(cfg, api.load_screens(cfg, ["esg_compute_leaders"]), date.fromisoformat(AS_OF))
    assert frame["symbol"].to_list() == result.included["symbol"].to_list()
    assert frame["score"].to_list() == result.included["score"].to_list()

    pandas = frame.to_pandas()
    assert list(pandas.columns) == frame.columns and pandas["rank"].tolist() == list(range(1, n + 1))


def test_screen_takes_names_dates_and_a_config_path(sample, tmp_path, monkeypatch):
    import screener

    monkeypatch.chdir(tmp_path)  # not the project folder: config= says where it is
    config = str(sample / "config.toml")
    earlier = screener.screen("esg_compute_leaders", as_of="2026-09-30", config=config)
    assert earlier.height and (earlier["price_as_of"].cast(pl.String) <= "2026-09-30").all()
    with pytest.raises(screener.InputError) as e:
        screener.screen("esg_compute_leaders", as_of="2026-02-30", config=config)
    assert "is not a date" in e.value.problems[0].message
    with pytest.raises(screener.InputError) as e:
        screener.screen("esg_compute_leader", config=config)
    assert "esg_compute_leaders" in (e.value.problems[0].hint or "")


def test_per_and_keep_add_group_rank_and_kept_and_p_comes_only_from_a_given_history(sample, cli, monkeypatch):
    """esg_reporters_by_market has `per = "market"` and `keep`: without `history=` it is plain
    top; with the output folder of a recorded run it is buffered against that run's watchlist."""
    monkeypatch.chdir(sample)
    import screener

    plain = screener.screen("esg_reporters_by_market", as_of="2026-11-20")
    assert plain.columns[-5:] == ["rank", "pinned", "pin_reason", "group_rank", "kept"]
    assert plain.schema["group_rank"] == pl.Int64 and not plain["kept"].any()

    assert cli(sample, "run", "esg_reporters_by_market", "--as-of", "2026-06-30", "--format", "json").exit_code == 0
    history = sample / "watchlists" / "history.sqlite"
    before = history.read_bytes()
    buffered = screener.screen("esg_reporters_by_market", as_of="2026-11-20", history=sample / "watchlists")
    assert history.read_bytes() == before  # read, never written
    unbuffered = screener.screen("esg_reporters_by_market", as_of="2026-11-20")
    assert unbuffered.equals(plain)  # no history given: the recorded run is not read
    # the same P as `screener run` (which reads the configured history) would use
    from screener import api
    from screener.config import load_config

    cfg = load_config("config.toml")
    (result,) = api.run(cfg, api.load_screens(cfg, ["esg_reporters_by_market"]), date(2026, 11, 20))
    assert result.previous is not None
    assert buffered["symbol"].to_list() == result.included["symbol"].to_list()
    assert buffered["kept"].to_list() == result.included["_kept"].to_list()
    assert buffered["kept"].any() and buffered["symbol"].to_list() != plain["symbol"].to_list()


def test_pandas_reads_a_parquet_export(sample, cli):
    import pandas as pd

    done = cli(sample, "run", "esg_compute_leaders", "--format", "parquet")
    assert done.exit_code == 0, done.output
    path = sample / "watchlists" / "esg_compute_leaders" / "latest.parquet"
    table = pd.read_parquet(path)
    assert len(table) > 0 and table["rank"].tolist() == list(range(1, len(table) + 1))
    assert str(table["rank"].dtype) == "int64" and str(table["score"].dtype) == "float64"
    assert list(table["symbol"]) == pl.read_parquet(path)["symbol"].to_list()


def test_the_readme_notebook_example_runs(sample, cli, monkeypatch):
    """The "From a notebook" block of the README, run as written in the sample project."""
    import re

    from tests.conftest import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## From a notebook\n.*?```python\n(.*?)```", text, re.S).group(1)
    assert cli(sample, "run", "esg_compute_leaders", "esg_reporters_by_market", "--format", "parquet").exit_code == 0
    monkeypatch.chdir(sample)
    exec(compile(block, "README.md", "exec"), {})


# -- `screener history RULE` (`api.history_runs`): a rule that is neither recorded nor a file ----------


def test_history_of_an_unknown_rule_is_an_error_with_did_you_mean(sample, cli):
    done = cli(sample, "history", "esg_compute_leader")
    assert done.exit_code == 2 and done.stdout == ""
    assert "no rule `esg_compute_leader`" in done.stderr and "did you mean `esg_compute_leaders`?" in done.stderr
    for args in (("nosuch", "--json"), ("nosuch", "--diff"), ("nosuch", "--diff", "--json")):
        done = cli(sample, "history", *args)
        assert done.exit_code == 2 and done.stdout == "" and "no rule `nosuch`" in done.stderr, args


def test_history_of_a_known_rule_without_runs_says_so(sample, cli):
    done = cli(sample, "history", "quantum_pure_plays")
    assert done.exit_code == 0 and "no recorded runs of quantum_pure_plays yet" in done.stdout
    done = cli(sample, "history", "rules/quantum_pure_plays.toml", "--json")
    assert done.exit_code == 0 and done.stdout.strip() == "[]"


def test_history_of_a_deleted_rule_with_runs_still_lists_them(sample, cli):
    assert cli(sample, "run", "quantum_pure_plays", "--format", "json").exit_code == 0
    (sample / "rules" / "quantum_pure_plays.toml").unlink()
    done = cli(sample, "history", "quantum_pure_plays", "--json")
    assert done.exit_code == 0 and len(__import__("json").loads(done.stdout)) == 1
    assert cli(sample, "history", "quantum_pure_plays", "--diff", "--json").exit_code == 0
