"""The two ways a file is checked give one answer.

Clean CSVs take the fast path (parsed straight to dtypes, checked by pandera as whole columns);
anything else takes the text path (every cell read as text, reported with its line). Whatever a
file holds, the fast path either agrees with the text path exactly or steps aside: it never
accepts what the text path rejects, and never types a value differently.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.data import schemas
from screener.data.snapshot import _fast_typed, load_checked, read_text_table
from screener.problems import InputError

from .conftest import REPO

SAMPLE_FILES = [("consensus", "data/sample/consensus.csv"), ("prices", "data/sample/prices.csv"),
                ("esg", "data/sample/esg.csv"), ("fx", "data/sample/fx.csv"),
                *[("universe", f"universes/{p.name}") for p in sorted((REPO / "universes").glob("*.csv"))]]


def text_path(kind: str, path: Path) -> tuple[list[str], pl.DataFrame | None]:
    """(error messages, typed table or None) as the careful text path sees the file."""
    text = read_text_table(path, path.name)
    errors = [p.message for p in schemas.validate(kind, text, path.name) if p.severity == "error"]
    return errors, (None if errors else schemas.to_typed(kind, text))


@pytest.mark.parametrize("kind,rel", SAMPLE_FILES)
def test_the_committed_files_take_the_fast_path_and_type_as_the_text_path_does(kind, rel):
    path = REPO / rel
    fast = _fast_typed(kind, path)
    errors, slow = text_path(kind, path)
    assert errors == []
    assert fast is not None, f"{rel} is clean but left the fast path"
    assert fast.schema == slow.schema
    assert fast.equals(slow)


def write(tmp_path: Path, header: str, rows: list[str]) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("cell,why", [
    ("yes", "a bool the CSV reader does not know"),
    (" true ", "blanks around a bool"),
])
def test_values_the_text_path_tidies_are_accepted_through_it(tmp_path, cell, why):
    path = write(tmp_path, "symbol,fiscal_year,eps,actual,as_of",
                 [f"600000.SH,2025,1.5,{cell},2026-03-31", "600000.SH,2026,1.7,false,2026-03-31"])
    assert _fast_typed("consensus", path) is None, why
    typed = load_checked("consensus", path, "t.csv").collect()
    assert typed["actual"].to_list() == [True, False]


@pytest.mark.parametrize("rows,message", [
    (["600000.SH,2025,n/a,true,2026-03-31"], "row 1, column eps: 'n/a' is not a number"),
    (["600000.SH,2025,nan,true,2026-03-31"], "row 1, column eps: 'nan' is not a number"),
    (["600000.SH,2025,inf,true,2026-03-31"], "row 1, column eps: 'inf' is not a number"),
    (["600000.SH,2025,1e400,true,2026-03-31"], "row 1, column eps: '1e400' is not a number"),
    (["600000.SH,2025,1.5,true,31/03/2026"], "row 1, column as_of: '31/03/2026' is not a date (YYYY-MM-DD)"),
    (["600000.SH,1890,1.5,true,2026-03-31"], "row 1, column fiscal_year: '1890' is not a fiscal year between 1990 and 2100"),
    (["600000.SH,2025,1.5,true,2026-03-31", "600000.SH,2025,1.6,true,2026-03-31"], "row 2 repeats row 1"),
    (["600000,2025,1.5,true,2026-03-31"], "row 1, column symbol: '600000' is not a canonical symbol"),
])
def test_a_bad_file_is_reported_by_line_whichever_path_saw_it_first(tmp_path, rows, message):
    path = write(tmp_path, "symbol,fiscal_year,eps,actual,as_of", rows)
    assert _fast_typed("consensus", path) is None
    with pytest.raises(InputError) as e:
        load_checked("consensus", path, "t.csv")
    assert any(message in p.message for p in e.value.problems), [p.message for p in e.value.problems]


def test_a_private_company_marked_listed_is_caught_on_the_fast_path_too(tmp_path):
    path = write(tmp_path, "symbol,name,exposure,listed", ["PRIVATE:acme,Acme,pure,true"])
    assert _fast_typed("universe", path) is None
    with pytest.raises(InputError, match="unlisted"):
        load_checked("universe", path, "t.csv")


def test_unknown_columns_are_dropped_on_both_paths(tmp_path):
    path = write(tmp_path, "symbol,close,currency,as_of,venue", ["600000.SH,10.5,CNY,2026-03-31,XSHG"])
    fast = _fast_typed("prices", path)
    assert fast is not None and "venue" not in fast.columns
    assert fast.equals(text_path("prices", path)[1])


CLEAN = [["600000.SH", "000001.SZ", "0020.HK", "IONQ.US"], ["2025", "2026", "2027"], ["1.5", "-0.25", "0", "1e3"],
         ["true", "false", "TRUE", "False"], ["2026-03-31", "2026-06-30", "2026-3-31"], ["CNY", "USD", ""]]
ODD = [[" 600000.SH", "600000", "", "PRIVATE:acme"], ["", "2026.0", "1890", " 2027", "x"],
       [" 2.5", "nan", "inf", "n/a", "1e400"], ["1", "0", "yes", "", " true"],
       ["", " 2026-03-31", "31/03/2026", "2026-03-31 00:00:00"], ["cny", " HKD", "RMB1"]]
ROW = st.tuples(*[st.sampled_from(c) for c in CLEAN])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=6), odd=st.none() | st.tuples(st.integers(0, 5), st.integers(0, 5),
                                                                             st.integers(0, 4)))
def test_the_fast_path_never_disagrees_with_the_text_path(tmp_path, rows, odd):
    """Clean tables with at most one odd cell: duplicates, blanks, lenient spellings, bad values."""
    assert_paths_agree(tmp_path, "consensus", "symbol,fiscal_year,eps,actual,as_of,currency", rows, odd, ODD)


def assert_paths_agree(tmp_path: Path, kind: str, header: str, rows: list, odd, odd_values: list) -> None:
    """Write `rows` with at most one cell replaced by an odd value; the fast path must either step
    aside or agree with the text path exactly, and a clean table must take it."""
    cells = [list(r) for r in rows]
    if odd is not None:
        row, col, pick = odd
        cells[row % len(cells)][col] = odd_values[col][pick % len(odd_values[col])]
    path = write(tmp_path, header, [",".join(r) for r in cells])
    fast = _fast_typed(kind, path)
    errors, slow = text_path(kind, path)
    if fast is not None:
        assert errors == [], f"fast path accepted what the text path rejects: {errors}"
        assert fast.equals(slow), f"typed differently:\n{fast}\n{slow}"
    elif odd is None and not errors:
        pytest.fail("a clean table left the fast path")


def test_a_file_replaced_while_it_is_read_is_an_error_not_a_mismatched_cache_entry(tmp_path, monkeypatch):
    import screener.data.snapshot as data

    path = write(tmp_path, "symbol,close,currency,as_of", ["600000.SH,10.5,CNY,2026-03-31"])
    real = data._fast_typed

    def replaced_midway(kind, p):
        out = real(kind, p)
        p.write_text("symbol,close,currency,as_of\n600000.SH,99.0,CNY,2026-03-31\n", encoding="utf-8")
        return out

    monkeypatch.setattr(data, "_fast_typed", replaced_midway)
    with pytest.raises(InputError, match="changed while it was being read"):
        load_checked("prices", path, "t.csv")
    monkeypatch.setattr(data, "_fast_typed", real)
    assert load_checked("prices", path, "t.csv").collect()["close"].to_list() == [99.0]


def test_an_unchanged_file_is_not_hashed_again_and_an_edited_one_is(tmp_path, monkeypatch):
    import hashlib

    from screener.data.snapshot import FileStamp

    path = write(tmp_path, "symbol,close,currency,as_of", ["600000.SH,10.5,CNY,2026-03-31"])
    calls = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, name: calls.append(name) or real(f, name))
    first = FileStamp.of(path, "t.csv")
    assert FileStamp.of(path, "t.csv") == first and len(calls) == 1
    path.write_text("symbol,close,currency,as_of\n600000.SH,99.5,CNY,2026-03-31\n", encoding="utf-8")  # same size
    second = FileStamp.of(path, "t.csv")
    assert len(calls) == 2 and second.digest != first.digest
    assert load_checked("prices", path, "t.csv", second).collect()["close"].to_list() == [99.5]


@pytest.mark.parametrize("kind,rel", SAMPLE_FILES)
def test_a_typed_parquet_copy_takes_the_fast_path_and_types_as_the_text_path_does(tmp_path, kind, rel):
    typed = text_path(kind, REPO / rel)[1]
    path = tmp_path / f"{kind}.parquet"
    typed.write_parquet(path)
    fast = _fast_typed(kind, path)
    assert fast is not None
    assert fast.equals(text_path(kind, path)[1])


def test_parquet_with_other_dtypes_or_bad_values_goes_down_the_text_path(tmp_path):
    path = tmp_path / "prices.parquet"
    pl.DataFrame({"symbol": ["600000.SH"], "close": [10.5], "currency": ["CNY"],
                  "as_of": ["2026-03-31"]}).write_parquet(path)  # a date as text
    assert _fast_typed("prices", path) is None
    assert load_checked("prices", path, "p.parquet").collect()["as_of"].to_list()[0].isoformat() == "2026-03-31"
    from datetime import date
    pl.DataFrame({"symbol": ["600000.SH"], "close": [-1.0], "currency": ["CNY"],
                  "as_of": [date(2026, 3, 31)]}).write_parquet(path)
    assert _fast_typed("prices", path) is None
    with pytest.raises(InputError, match="must be greater than 0"):
        load_checked("prices", path, "p.parquet")


ESG_CLEAN = [["600000.SH", "0020.HK", "IONQ.US"], ["绿发信评", "华证"], ["AA+pi", "A", "BBB-", "85.98(AAA)"],
             ["2026-03-31", "2026-06-30"]]
ESG_ODD = [[" 600000.SH", ""], [" 华证", "", "华证 "], ["aa", " A", "Z", "", "85.98 (AAA)", "A pi"],
           [" 2026-03-31", "2026-03-31 ", "", "2026/03/31"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(*[st.sampled_from(c) for c in ESG_CLEAN]), min_size=1, max_size=6),
       odd=st.none() | st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 5)))
def test_the_fast_path_never_disagrees_with_the_text_path_on_ratings(tmp_path, rows, odd):
    assert_paths_agree(tmp_path, "esg", "symbol,rater,rating,as_of", rows, odd, ESG_ODD)


def test_cache_entries_unused_for_two_weeks_go_when_a_new_table_is_cached(tmp_path, monkeypatch):
    import os
    import time

    from screener.data.snapshot import CACHE_KEEP_DAYS, FileStamp

    cache = tmp_path / "cache"
    monkeypatch.setenv("SCREENER_CACHE_DIR", str(cache))
    used = write(tmp_path, "symbol,close,currency,as_of", ["600000.SH,10.5,CNY,2026-03-31"])
    load_checked("prices", used, "p.csv")
    entries = sorted(cache.glob("*.parquet")) + sorted((cache / "digests").glob("*"))
    assert len(entries) == 2
    old = time.time() - (CACHE_KEEP_DAYS + 1) * 86400
    for e in entries:
        os.utime(e, (old, old))
    load_checked("prices", used, "p.csv", FileStamp.of(used, "p.csv"))  # a hit marks both used again
    stale = cache / ("0" * 64 + ".parquet")
    stale.write_bytes(b"not used for weeks")
    os.utime(stale, (old, old))
    other = tmp_path / "q.csv"
    other.write_text("symbol,close,currency,as_of\n000001.SZ,9.5,CNY,2026-03-31\n", encoding="utf-8")
    load_checked("prices", other, "q.csv")  # a new entry: the cache is pruned
    assert not stale.exists()
    assert all(e.exists() for e in entries)
    assert len(list(cache.glob("*.parquet"))) == 2
