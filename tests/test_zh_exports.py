"""`--lang zh` from the user's side: two runs of one rule through the real CLI (the second with a
changed rule, so entered, left and moved rows exist), in English and in Chinese, every format.

DESIGN.md: headers are translated everywhere; values, reasons, changes and 亿/万 units appear in
HTML, Markdown and the XLSX display only (XLSX cells stay numbers in plain units); CSV, JSON and
Parquet values never change with the language; in zh rising is red and falling green."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from screener.cli import main
from screener.outputs.labels import amount_unit, translate_reason, translate_value

from .conftest import REPO

AS_OF = "2026-11-26"
FORMATS = "html,md,xlsx,csv,json,parquet"

RULE_1 = """name = "zh demo"
universe = ["esg_compute"]

[filters]
rated = "esg_rating >= 'AA'"
growing = "eps_growth_fy1 >= 0.10 and pe_fy1 < 80"

[scores]
earnings = { expr = "eps_growth_fy1", weight = 0.5 }
value = { expr = "pe_fy1", weight = 0.5, higher_is_better = false }

[output]
top = 4
columns = ["market_cap", "revenue_fy1", "net_profit_fy1", "amount_avg_1m", "market", "listed", "return_1m"]

[[pins]]
symbol = "000066.SZ"
action = "include"
reason = "core position -> review"

[[pins]]
symbol = "300130.SZ"
action = "exclude"
reason = "audit"
"""

# the second run: growth weighs more, the top is shorter, the rating bar is lower and the
# exclude pin is gone, so some rows move, one leaves and one enters
RULE_2 = (RULE_1.replace("weight = 0.5 }\nvalue", "weight = 0.9 }\nvalue").replace("top = 4", "top = 3")
          .replace("'AA'", "'AA-'").split("[[pins]]\nsymbol = \"300130.SZ\"")[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{lang: folder of the second run's dated exports} for en and zh: the sample project copied
    (as conftest's `sample`), each rule text run in both languages, each language with its own
    output folder and history (as conftest's `cli`: click's runner, in-process)."""
    project = tmp_path_factory.mktemp("zh")
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, project / name)
    shutil.copytree(REPO / "data" / "sample", project / "data" / "sample")
    shutil.copy(REPO / "config.toml", project / "config.toml")
    rule = project / "rules" / "zh_demo.toml"
    cwd = Path.cwd()
    os.chdir(project)
    try:
        for text in (RULE_1, RULE_2):
            rule.write_text(text, encoding="utf-8")
            for lang in ("en", "zh"):
                r = CliRunner().invoke(main, ["run", "zh_demo", "--as-of", AS_OF, "--lang", lang, "--format", FORMATS,
                                              "--out", f"out_{lang}"], catch_exceptions=False)
                assert r.exit_code == 0, r.output
    finally:
        os.chdir(cwd)
    return {lang: project / f"out_{lang}" / "zh_demo" / AS_OF for lang in ("en", "zh")}


def read(runs, lang: str, fmt: str) -> bytes:
    return (runs[lang] / f"zh_demo.{fmt}").read_bytes()


# ---------------------------------------------------------------- the words


def test_translate_reason_keeps_names_and_user_words():
    assert translate_reason("rank 12, below top 10", "zh") == "第 12 名，未进前 10"
    assert translate_reason("failed growing (missing data: growing)", "zh") == "未通过 growing（缺少数据：growing）"
    assert translate_reason("failed rated, growing", "zh") == "未通过 rated, growing"
    assert translate_reason("kept by the buffer (rank 12, keep 15)", "zh") == "缓冲保留（第 12 名，缓冲名次 15）"
    assert translate_reason("pinned: core position -> review", "zh") == "人工纳入：core position -> review"
    assert translate_reason("excluded by pin: audit, rank 3", "zh") == "人工排除：audit, rank 3"
    assert translate_reason("rank 2 in industry 计算机, below top 1 per industry", "zh") == \
        "industry 计算机 组内第 2 名，未进前 1（按 industry 分组）"
    assert translate_reason("rank 17, outside keep 15", "zh") == "第 17 名，超出缓冲名次 15"
    assert translate_reason("new in the universe", "zh") == "新进入股票池"
    assert translate_reason("now passes rated, growing; no longer excluded by a pin", "zh") == \
        "现已通过 rated, growing；不再被人工排除"
    assert translate_reason("rose into the top 5", "zh") == "升入前 5"
    assert translate_reason("fell below the top 5 (rank 7)", "zh") == "跌出前 5（第 7 名）"
    assert translate_reason("up 2 (score 0.500 -> 0.616)", "zh") == "上升 2 名（得分 0.500 -> 0.616）"
    assert translate_reason("down 1 (score 0.600 -> 0.500)", "zh") == "下降 1 名（得分 0.600 -> 0.500）"
    assert translate_reason("unlisted", "zh") == "未上市"
    # English and unknown words stay as they are
    assert translate_reason("rank 12, below top 10", "en") == "rank 12, below top 10"
    assert translate_reason("something new", "zh") == "something new"
    assert translate_reason(None, "zh") is None


def test_translate_value_of_closed_sets():
    assert translate_value("exposure", "core", "zh") == "核心"
    assert translate_value("market", "HK", "zh") == "港股"
    assert translate_value("market", "HK", "en") == "HK"
    assert translate_value("listed", True, "zh") == "是"
    assert translate_value("name", "core", "zh") == "core"


def test_amount_unit_follows_the_median_magnitude():
    assert amount_unit([1.447e11, 5.0e9, 2e7], "zh") == (1e8, "亿")
    assert amount_unit([3.0e5, 2.0e6, 1e9], "zh") == (1e4, "万")
    assert amount_unit([12.0, 300.0], "zh") is None
    assert amount_unit([None, float("nan")], "zh") is None
    assert amount_unit([1.447e11], "en") is None


# ---------------------------------------------------------------- HTML, Markdown, XLSX in zh


def test_markdown_zh(runs):
    md = read(runs, "zh", "md").decode("utf-8")
    assert "&gt;" not in md and "&lt;" not in md and "&amp;" not in md
    assert "人工纳入：core position -> review" in md
    assert "总市值（亿）" in md and "近1月日均成交额（亿）" in md
    assert re.search(r"\| 1446\.\d\d \|", md)  # 浪潮信息's 144.67 bn: the unit is in the header only
    assert " bn" not in md and " m |" not in md
    # changes: translated reasons, ▲/▼ words instead of colour
    assert "第 6 名，未进前 3" in md
    assert re.search(r"下降 \d+ 名（得分 [\d.]+ -> [\d.]+）", md)
    assert "现已通过 rated；不再被人工排除" in md
    assert "| 1 → 2 ▼ |" in md
    assert "| 是 |" in md and "| yes |" not in md
    assert "up 1 (" not in md and "pinned: " not in md


def test_markdown_en_has_no_entities_either(runs):
    md = read(runs, "en", "md").decode("utf-8")
    assert "&gt;" not in md and "pinned: core position -> review" in md
    assert re.search(r"down \d+ \(score [\d.]+ -> [\d.]+\)", md)
    assert " bn" in md  # English keeps its units


def test_html_zh(runs):
    page = read(runs, "zh", "html").decode("utf-8")
    assert "人工纳入：core position -&gt; review" in page  # HTML escapes, Markdown does not
    assert "总市值（亿）" in page and " bn<" not in page
    assert re.search(r">1446\.\d\d<", page)
    assert re.search(r"下降 \d+ 名", page) and "fell below" not in page and "rank 6, below" not in page
    # rising red, falling green
    moved = re.findall(r'<td class="num (up|down) (red|green)">', page)
    assert moved and all((d, c) in (("up", "red"), ("down", "green")) for d, c in moved)
    returns = re.findall(r'<td class="c-return_1m num (up|down) (red|green)">', page)
    assert returns and all((d, c) in (("up", "red"), ("down", "green")) for d, c in returns)
    assert ".red { color: #c62828; }" in page and ".green { color: #2e7d32; }" in page


def test_html_en_keeps_its_colours(runs):
    page = read(runs, "en", "html").decode("utf-8")
    moved = re.findall(r'<td class="num (up|down) (red|green)">', page)
    assert moved and all((d, c) in (("up", "green"), ("down", "red")) for d, c in moved)
    assert "pinned: core position -&gt; review" in page and " bn<" in page


def test_xlsx_zh_display_and_numbers(runs):
    wb = openpyxl.load_workbook(io.BytesIO(read(runs, "zh", "xlsx")))
    ws = wb["watchlist"]
    header = [c.value for c in ws[1]]
    j = header.index("总市值")
    cells = [ws.cell(row=i, column=j + 1) for i in range(2, ws.max_row + 1) if ws.cell(row=i, column=j + 1).value is not None]
    # plain units in the cell, 亿 in its format: Excel shows 144670000000 as "1446.70亿"
    assert cells and all(isinstance(c.value, (int, float)) and c.value > 1e8 for c in cells)
    assert {c.number_format for c in cells} == {'0!.00,,"亿"'}
    reasons = [ws.cell(row=i, column=header.index("入选说明") + 1).value for i in range(2, ws.max_row + 1)]
    assert "📌 人工纳入：core position -> review" in reasons or "人工纳入：core position -> review" in reasons
    market = [ws.cell(row=i, column=header.index("市场") + 1).value for i in range(2, ws.max_row + 1)]
    assert "A股" in market and "CN" not in market
    exposure = {ws.cell(row=i, column=header.index("主题暴露") + 1).value for i in range(2, ws.max_row + 1)}
    assert exposure and exposure <= {"纯正", "核心", "部分", "外围", None}
    changes = wb["changes"]
    text = " ".join(str(c.value) for row in changes.iter_rows() for c in row if c.value is not None)
    assert re.search(r"下降 \d+ 名", text) and "down 1 (" not in text
    en = openpyxl.load_workbook(io.BytesIO(read(runs, "en", "xlsx")))["watchlist"]
    en_header = [c.value for c in en[1]]
    assert en.cell(row=2, column=en_header.index("market_cap") + 1).value == ws.cell(row=2, column=j + 1).value


# ---------------------------------------------------------------- machine formats never change


def test_json_values_equal_between_languages(runs):
    en, zh = (json.loads(read(runs, lang, "json")) for lang in ("en", "zh"))
    for payload in (en, zh):  # the times of the runs differ by the seconds between them
        payload.pop("generated_at")
        for run in ("before", "after"):
            (payload["changes"].get(run) or {}).pop("generated_at", None)
    assert en == zh
    assert any(r.get("reason") == "pinned: core position -> review" for r in zh["rows"])


def test_parquet_values_equal_between_languages(runs):
    en, zh = (pl.read_parquet(io.BytesIO(read(runs, lang, "parquet"))) for lang in ("en", "zh"))
    assert en.columns == zh.columns
    assert en.equals(zh)


def test_csv_values_equal_between_languages(runs):
    def rows(lang):
        text = read(runs, lang, "csv").decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    en, zh = rows("en"), rows("zh")
    assert en[0] != zh[0] and "总市值" in zh[0]  # headers translated
    assert en[1:] == zh[1:]  # values byte for byte the same


def test_the_previous_watchlist_note_in_zh_displays_and_english_data(sample, cli):
    from screener.outputs.labels import translate_note

    assert translate_note("previous watchlist: run 7 as of 2026-11-20", "zh") == "上期观察名单：第 7 次运行（截至 2026-11-20）"
    assert translate_note("previous watchlist: run 7 as of 2026-11-20", "en") == "previous watchlist: run 7 as of 2026-11-20"
    for as_of in ("2026-09-30", "2026-11-20"):
        r = cli(sample, "run", "esg_reporters_by_market", "--as-of", as_of, "--format", "md,csv,json", "--lang", "zh")
        assert r.exit_code == 0, r.output
    folder = sample / "watchlists" / "esg_reporters_by_market"
    assert "上期观察名单：第 1 次运行（截至 2026-09-30）" in (folder / "latest.md").read_text(encoding="utf-8")
    assert "上期观察名单：第 1 次运行（截至 2026-09-30）" in r.stdout
    # data files keep the English words whatever the language
    assert "previous watchlist: run 1 as of 2026-09-30" in (folder / "latest.csv").read_text(encoding="utf-8-sig")
    import json

    assert json.loads((folder / "latest.json").read_text(encoding="utf-8"))["previous_note"] == \
        "previous watchlist: run 1 as of 2026-09-30"


def test_the_terminal_footers_are_chinese_under_lang_zh(sample, cli):
    """The title and every line under the table (score, changes, the run recorded, files written)
    speak Chinese with --lang zh; English stays the default."""
    for day in ("2026-10-30", "2026-11-20"):
        r = cli(sample, "run", "esg_compute_leaders", "--as-of", day, "--format", "csv", "--lang", "zh")
        assert r.exit_code == 0, r.output
    out = r.stdout
    assert "截至 2026-11-20" in out and "只成员中入选" in out
    assert "得分 = 各构成在" in out and "较第 1 次运行（2026-10-30）：新进" in out
    assert "已记录为第 2 次运行" in out and "已写入 watchlists/esg_compute_leaders/latest.csv" in out
    for english in ("Score = weighted", "Since run", "recorded as run", "wrote ", " members ("):
        assert english not in out, english
    plain = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-20", "--format", "csv").stdout
    assert "Score = weighted" in plain and "recorded as run 3" in plain
