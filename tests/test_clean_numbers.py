"""Clean numbers in real exports of the sample project: counts as integers in CSV and Parquet,
computed floats in CSV rounded to 10 significant digits in their shortest form, Parquet at full
float64, and CSV, JSON and Parquet values the same whatever `--lang`."""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest

from tests.conftest import write

AS_OF = "2026-11-20"
#: a rule that shows counts (`analysts`, `group_rank` through `per`) and computed amounts
COUNTS = """
name = "Counts"
universe = ["esg_compute"]

[filters]
profitable = "eps_fy1 > 0"

[scores]
growth = { expr = "eps_growth_fy1", weight = 1 }

[output]
top = 3
per = "market"
columns = ["analysts", "revenue_fy1", "return_3m", "amount_avg_1m"]
"""
RULES = ("counts", "esg_compute_leaders", "esg_reporters_by_market")


@pytest.fixture
def exports(sample, cli):
    """The sample project run in English and in Chinese into two output folders."""
    write(sample / "rules" / "counts.toml", COUNTS)
    for lang in ("en", "zh"):
        done = cli(sample, "run", *RULES, "--as-of", AS_OF, "--format", "csv,json,parquet", "--out", lang,
                   "--lang", lang)
        assert done.exit_code == 0, done.output
    return sample


def rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_counts_are_integers_in_csv_and_parquet(exports):
    table = rows(exports / "en" / "counts" / "latest.csv")
    assert table and all(r["analysts"] and r["analysts"].isdigit() for r in table)  # 24, not 24.0
    assert all(r["rank"].isdigit() and r["group_rank"].isdigit() for r in table)
    frame = pl.read_parquet(exports / "en" / "counts" / "latest.parquet")
    assert frame.schema["analysts"] == pl.Int64 and frame.schema["rank"] == pl.Int64
    assert frame.schema["group_rank"] == pl.Int64
    assert [str(v) for v in frame["analysts"]] == [r["analysts"] for r in table]
    import json

    payload = json.loads((exports / "en" / "counts" / "latest.json").read_text(encoding="utf-8"))
    assert [r["analysts"] for r in payload["rows"]] == [int(r["analysts"]) for r in table]
    assert all(isinstance(r["analysts"], int) for r in payload["rows"])


def test_computed_floats_in_csv_are_rounded_and_shortest_while_parquet_keeps_float64(exports):
    from screener.outputs.formats.csv_format import AS_GIVEN

    seen_rounded = 0
    for rule in RULES:
        table = rows(exports / "en" / rule / "latest.csv")
        frame = pl.read_parquet(exports / "en" / rule / "latest.parquet")
        floats = [c for c, t in frame.schema.items() if t == pl.Float64]
        assert {"score", "eps_growth_fy1", "pe_fy1"} <= set(floats)
        for c in floats:
            for text, full in zip((r[c] for r in table), frame[c].to_list()):
                if full is None:
                    assert text == ""
                    continue
                value = float(text)
                assert text in (repr(value), repr(value).removesuffix(".0")), (c, text)  # shortest form
                if c in AS_GIVEN:
                    assert value == full, (c, text, full)  # input numbers exactly as read
                else:
                    assert len(text.lstrip("-").replace(".", "").lstrip("0").rstrip("0")) <= 10 or "e" in text, (c, text)
                    assert value == float(f"{full:.10g}"), (c, text, full)
                    seen_rounded += value != full
    assert seen_rounded > 0  # the parquet export kept digits the CSV rounded away


def test_clean_float_examples():
    from screener.outputs.formats.csv_format import clean_float

    assert clean_float(0.1 + 0.2) == 0.3 and repr(clean_float(0.1 + 0.2)) == "0.3"
    assert clean_float(0.6419999999999999) == 0.642
    assert clean_float(37.59036144578313) == 37.59036145
    assert clean_float(1e-20) == 1e-20 and clean_float(None) is None
    assert clean_float(float("inf")) == float("inf")


def test_the_vectorised_rounding_equals_clean_float_at_every_exponent():
    import math

    from screener.outputs.formats.csv_format import clean_float, rounded

    values = [0.1 + 0.2, 37.59036144578313, 112456314569.0, 1e-20, 1.23456789012345e-300, 9.999999999999e22,
              -2.5e15, 5e-324, 0.0, -0.0, float("inf"), float("nan"), None]
    values += [m * 10.0 ** e for e in range(-300, 301, 7) for m in (1.2345678901234567, -9.87654321987654)]
    got = rounded(pl.Series("x", values)).to_list()
    for v, g in zip(values, got):
        want = clean_float(v)
        assert g == want or (g is None and want is None) or (math.isnan(g) and math.isnan(want)), (v, g, want)


def test_values_never_change_with_the_language(exports):
    for rule in RULES:
        en, zh = exports / "en" / rule, exports / "zh" / rule
        csv_en = (en / "latest.csv").read_text(encoding="utf-8-sig").splitlines()
        csv_zh = (zh / "latest.csv").read_text(encoding="utf-8-sig").splitlines()
        assert csv_en[0] != csv_zh[0]  # the headers are translated
        assert csv_en[1:] == csv_zh[1:] and len(csv_en) > 1  # the values are not
        assert pl.read_parquet(en / "latest.parquet").equals(pl.read_parquet(zh / "latest.parquet"))
        json_en, json_zh = (json.loads((d / "latest.json").read_text(encoding="utf-8")) for d in (en, zh))
        json_en.pop("generated_at"), json_zh.pop("generated_at")
        assert json_en == json_zh
