"""Every export format read back: the same securities, ranks and scores as the JSON payload;
sample data labelled everywhere; Chinese headers; changes; empty watchlists; hostile names.

Results are built through the library (config -> screens -> run -> ExportContext -> render), and
one test runs the real CLI over all the formats this file covers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from markdown_it import MarkdownIt

from screener import api
from screener.config import load_config
from screener.outputs.export import ExportContext, render
from screener.outputs.history import Changes, compare, rows_of

from .conftest import CONFIG, write

FORMATS = ("csv", "xlsx", "md", "parquet", "json")
GENERATED = datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)
AS_OF = date(2026, 11, 20)
RULE = "rules/esg_compute_leaders.toml"
RULES = ("rules/esg_compute_leaders.toml", "rules/ai_compute_garp.toml", "rules/quantum_pure_plays.toml",
         "rules/bci_listed_exposure.toml")
NOTICE_START = "SAMPLE DATA:"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------- helpers


def screen(project: Path, rule: str, as_of: date = AS_OF):
    """One rule run through the library, from the project folder (paths display relative to it)."""
    config = load_config(project / "config.toml")
    return api.run(config, api.load_screens(config, [rule]), as_of)[0]


@pytest.fixture
def in_sample(sample, monkeypatch):
    monkeypatch.chdir(sample)
    return sample


@pytest.fixture
def ctx_for(in_sample):
    """Build an ExportContext for a rule of the sample project."""
    def make(rule: str = RULE, lang: str = "en", changes=None) -> ExportContext:
        return ExportContext(screen(in_sample, rule), generated_at=GENERATED, lang=lang, changes=changes)
    return make


def md_cells(line: str) -> list[str]:
    """The cells of one Markdown table row, split on pipes that are not backslash-escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def md_unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell)  # Markdown's backslash escapes (the export writes no entities)


def md_table(text: str) -> list[dict]:
    """The first table of a Markdown document as dicts keyed by its (unescaped) headers."""
    lines = _first_table_rows(text)
    headers = [md_unescape(c) for c in md_cells(lines[0])]
    assert set("".join(md_cells(lines[1]))) <= set("-:"), lines[1]
    return [dict(zip(headers, (md_unescape(c) for c in md_cells(ln)), strict=True)) for ln in lines[2:]]


def _first_table_rows(text: str) -> list[str]:
    rows, started = [], False
    for ln in text.splitlines():
        if ln.startswith("|"):
            started = True
            rows.append(ln)
        elif started:
            break
    return rows


def md_html(text: str) -> str:
    """The document rendered as a browser would get it (raw HTML allowed, GFM tables)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def md_row_widths(text: str) -> list[int]:
    """Number of cells of every table row of the rendered document."""
    widths, n = [], 0
    for tok in MarkdownIt("commonmark", {"html": True}).enable("table").parse(text):
        if tok.type == "tr_open":
            n = 0
        elif tok.type in ("th_open", "td_open"):
            n += 1
        elif tok.type == "tr_close":
            widths.append(n)
    return widths


def xlsx_sheet_rows(ws) -> list[dict]:
    """The table at A1 of a sheet as dicts keyed by header, stopping at the first blank row."""
    rows = list(ws.iter_rows(values_only=True))
    headers = rows[0]
    out = []
    for r in rows[1:]:
        if all(v is None for v in r):
            break
        out.append(dict(zip(headers, r)))
    return out


def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def ranked(fmt: str, data: bytes) -> list[tuple[int, str, float]]:
    """(rank, symbol, score) of every row of an English-headed export, as written."""
    if fmt == "csv":
        rows = csv_rows(data)
    elif fmt == "xlsx":
        rows = xlsx_sheet_rows(workbook(data)["watchlist"])
    elif fmt == "md":
        rows = md_table(data.decode("utf-8"))
    elif fmt == "parquet":
        rows = pl.read_parquet(io.BytesIO(data)).to_dicts()
    else:
        rows = json.loads(data)["rows"]
    return [(int(r["rank"]), r["symbol"], float(r["score"])) for r in rows]


def assert_same_rows(got, expected, tol: float) -> None:
    assert [(r, s) for r, s, _ in got] == [(r, s) for r, s, _ in expected]
    for (_, sym, a), (_, _, b) in zip(got, expected):
        assert a == pytest.approx(b, abs=tol), sym


# ---------------------------------------------------------------- the real CLI


def test_cli_writes_every_format_with_the_same_rows(sample, cli):
    result = cli(sample, "run", RULE, "--as-of", AS_OF.isoformat(), "--format", ",".join(FORMATS), "--out", "out")
    assert result.exit_code == 0, result.output
    folder = sample / "out" / "esg_compute_leaders" / AS_OF.isoformat()
    files = {fmt: (folder / f"esg_compute_leaders.{fmt}").read_bytes() for fmt in FORMATS}
    expected = ranked("json", files["json"])
    assert len(expected) == 9
    for fmt in FORMATS:
        assert_same_rows(ranked(fmt, files[fmt]), expected, 5e-4 if fmt == "md" else 1e-6)
    assert workbook(files["xlsx"]).sheetnames == ["watchlist", "about"]  # a first run: no changes


def test_cli_lang_zh_reaches_xlsx_and_md(sample, cli):
    result = cli(sample, "run", RULE, "--as-of", AS_OF.isoformat(), "--format", "xlsx,md", "--lang", "zh",
                 "--out", "out")
    assert result.exit_code == 0, result.output
    folder = sample / "out" / "esg_compute_leaders" / AS_OF.isoformat()
    header = [c.value for c in workbook((folder / "esg_compute_leaders.xlsx").read_bytes())["watchlist"][1]]
    assert header[:3] == ["排名", "代码", "名称"] and "综合得分" in header
    assert "| 排名 | 代码 | 名称 |" in (folder / "esg_compute_leaders.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- same rows everywhere


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rule", RULES)
def test_every_format_has_the_json_rows(ctx_for, rule, fmt):
    ctx = ctx_for(rule)
    expected = ranked("json", render("json", ctx))
    assert expected, "the sample data should pass someone in every shipped rule"
    assert_same_rows(ranked(fmt, render(fmt, ctx)), expected, 5e-4 if fmt == "md" else 1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_notice_in_every_format(ctx_for, fmt):
    ctx = ctx_for()
    notice = ctx.result.snapshot.notice
    assert notice and notice.startswith(NOTICE_START)
    data = render(fmt, ctx)
    if fmt == "csv":
        assert {r["data_notice"] for r in csv_rows(data)} == {notice}
    elif fmt == "parquet":
        assert pl.read_parquet(io.BytesIO(data))["data_notice"].unique().to_list() == [notice]
    elif fmt == "json":
        assert json.loads(data)["data"]["notice"] == notice
    elif fmt == "md":
        assert f"> {notice}" in md_unescape(data.decode("utf-8"))
    else:
        wb = workbook(data)
        below = [c.value for c in wb["watchlist"]["A"] if c.value == notice]
        assert below, "the notice must be on the watchlist sheet"
        assert notice in [c.value for c in wb["about"]["B"]]


# ---------------------------------------------------------------- xlsx


def test_xlsx_layout_and_number_formats(ctx_for):
    ctx = ctx_for()
    wb = workbook(render("xlsx", ctx))
    assert wb.sheetnames == ["watchlist", "about"]
    ws = wb["watchlist"]
    assert ws.freeze_panes == "A2"
    headers = [c.value for c in ws[1]]
    assert headers[:7] == ["rank", "symbol", "name", "name_en", "themes", "exposure", "score"]
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(headers)).column_letter}10"
    for cell in ws[1]:
        assert cell.font.bold and cell.fill.fgColor.rgb.endswith("DDEBF7") and cell.border.bottom.style == "thin"
    row = {h: ws.cell(2, j + 1) for j, h in enumerate(headers)}
    expected = {"rank": "0", "score": "0.000", "score_earnings": "0.000", "score_value": "0.000",
                "eps_growth_fy1": "0.0%", "pe_fy1": "0.0", "eps_fy1": "0.0000", "close": "0.00"}
    for col, fmt in expected.items():
        assert row[col].data_type == "n" and row[col].number_format == fmt, col
    assert row["as_of"].is_date and row["as_of"].value.date() == AS_OF
    assert row["as_of"].number_format == "yyyy-mm-dd"
    assert row["themes"].value == "esg_compute" and row["symbol"].value == "000977.SZ"
    # the 3-colour scale sits on the score column, data rows only
    rules = {str(cf.sqref): [r.type for r in cf.rules] for cf in ws.conditional_formatting}
    assert rules == {"G2:G10": ["colorScale"]}
    # CJK names count double in the width: 浪潮信息 (4 characters) needs at least 8 cells
    assert ws.column_dimensions["C"].width >= 8


def test_xlsx_about_sheet(ctx_for, in_sample):
    ctx = ctx_for()
    ws = workbook(render("xlsx", ctx))["about"]
    pairs = {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r[0] is not None}
    assert pairs["rule"] == "ESG compute leaders"
    assert pairs["rule file"] == RULE
    assert pairs["universes"] == "esg_compute"
    assert pairs["as_of"].date() == AS_OF
    assert pairs["generated_at"] == "2026-11-26T08:30:00+00:00"
    assert pairs["data folder"] == "sample"
    assert pairs["data fingerprint"] == ctx.result.snapshot.fingerprint and len(pairs["data fingerprint"]) > 8
    assert pairs["data notice"] == ctx.result.snapshot.notice
    assert (pairs["members"], pairs["passed"], pairs["shown"], pairs["top"]) == (22, 9, 9, 10)
    assert pairs["excluded: rated"] == 10 and pairs["excluded: growing"] == 7
    # the full rule text, one line per row, as text
    lines = [r[0] for r in ws.iter_rows(values_only=True)]
    start = lines.index("rule text") + 1
    text_lines = (in_sample / RULE).read_text(encoding="utf-8").splitlines()
    assert [v or "" for v in lines[start:start + len(text_lines)]] == text_lines
    assert all(c.data_type == "s" for r in ws.iter_rows(min_row=start + 1) for c in r if c.value is not None)


def test_xlsx_nulls_are_empty_cells_and_other_formats(ctx_for):
    wb = workbook(render("xlsx", ctx_for("rules/quantum_pure_plays.toml")))
    ws = wb["watchlist"]
    headers = [c.value for c in ws[1]]
    col = {h: j + 1 for j, h in enumerate(headers)}
    rows = range(2, 2 + len(xlsx_sheet_rows(ws)))
    assert ws.cell(2, col["market_cap"]).number_format == "#,##0"
    assert ws.cell(2, col["revision_3m"]).number_format == "0.0%"
    nulls = [ws.cell(r, col["pe_fy1"]).value for r in rows]
    assert None in nulls, "quantum names without profits have no P/E"
    assert all(v is None or isinstance(v, float) for v in nulls)


def test_xlsx_lists_join_with_semicolons(ctx_for):
    rows = xlsx_sheet_rows(workbook(render("xlsx", ctx_for("rules/ai_compute_garp.toml")))["watchlist"])
    assert "ai_compute; esg_compute" in {r["themes"] for r in rows}
    assert {r["peg_fy1"] is not None for r in rows} == {True}


# ---------------------------------------------------------------- Chinese headers


@pytest.mark.parametrize("fmt", ("csv", "xlsx", "md"))
def test_lang_zh_headers(ctx_for, fmt):
    data = render(fmt, ctx_for(lang="zh"))
    if fmt == "csv":
        headers = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    elif fmt == "xlsx":
        headers = [c.value for c in workbook(data)["watchlist"][1]]
    else:
        headers = [md_unescape(c) for c in md_cells(_first_table_rows(data.decode("utf-8"))[0])]
    assert headers[:3] == ["排名", "代码", "名称"]
    assert "综合得分" in headers and "得分·earnings" in headers and "score" not in headers


# ---------------------------------------------------------------- changes


def _changes(result) -> Changes:
    """Pretend the previous run ranked the top two the other way round, lacked the third, and
    had a security that has since left."""
    new = rows_of(result)
    old = {s: dict(r) for s, r in new.items()}
    first, second, third = (r["symbol"] for r in result.included.head(3).iter_rows(named=True))
    old[first]["rank"], old[second]["rank"] = 2, 1
    del old[third]
    old["GONE.US"] = {"symbol": "GONE.US", "name": "Gone <b>|Inc</b>", "included": True, "passed": True,
                      "rank": 3, "score": 0.5, "failed": [], "missing": [], "components": {}}
    return compare(old, new)


def test_changes_sheet_and_section(ctx_for):
    ctx = ctx_for()
    changes = _changes(ctx.result)
    assert len(changes.entered) == 1 and len(changes.left) == 1 and len(changes.moved) == 2
    ctx = ctx_for(changes=changes)
    wb = workbook(render("xlsx", ctx))
    assert wb.sheetnames == ["watchlist", "about", "changes"]
    ws = wb["changes"]
    assert ws.freeze_panes == "A2"
    rows = xlsx_sheet_rows(ws)
    assert [r["change"] for r in rows] == ["entered", "left", "moved", "moved"]
    gone = next(r for r in rows if r["symbol"] == "GONE.US")
    assert gone["name"] == "Gone <b>|Inc</b>" and gone["reason"] == "no longer in the universe"
    assert gone["from_rank"] == 3 and gone["to_rank"] is None
    moved = [r for r in rows if r["change"] == "moved"]
    assert {(r["from_rank"], r["to_rank"]) for r in moved} == {(1, 2), (2, 1)}

    md = render("md", ctx).decode("utf-8")
    section = md.split("## Changes since the previous run", 1)[1]
    assert "GONE.US" in section and "Gone \\<b>\\|Inc\\</b>" in section  # Markdown escapes, no entities
    assert "| moved |" in section and "| entered |" in section and "| left |" in section
    assert "<b>" not in md_html(md)
    assert len(set(md_row_widths(md))) == 2  # the watchlist and the changes tables, each regular
    assert json.loads(render("json", ctx))["changes"]["left"][0]["symbol"] == "GONE.US"


@pytest.mark.parametrize("changes", (None, Changes()), ids=("none", "empty"))
def test_no_changes_no_sheet_no_section(ctx_for, changes):
    ctx = ctx_for(changes=changes)
    assert workbook(render("xlsx", ctx)).sheetnames == ["watchlist", "about"]
    assert "Changes since" not in render("md", ctx).decode("utf-8")


# ---------------------------------------------------------------- empty watchlist

NOTHING = """
name = "Nothing passes"
universe = ["esg_compute"]

[filters]
impossible = "eps_fy1 > 1000000"

[scores]
growth = { expr = "eps_growth_fy1", weight = 1 }
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_watchlist_gives_valid_files(in_sample, fmt):
    write(in_sample / "rules" / "nothing.toml", NOTHING)
    ctx = ExportContext(screen(in_sample, "rules/nothing.toml"), generated_at=GENERATED)
    assert ctx.result.included.height == 0
    notice = ctx.result.snapshot.notice
    data = render(fmt, ctx)
    if fmt == "csv":
        text = data.decode("utf-8-sig")
        assert text.splitlines()[0].startswith("rank,symbol,name,") and csv_rows(data) == []
        assert "data_notice" in text.splitlines()[0]
    elif fmt == "parquet":
        frame = pl.read_parquet(io.BytesIO(data))
        assert frame.height == 0 and frame.columns[:3] == ["rank", "symbol", "name"] and "data_notice" in frame.columns
    elif fmt == "json":
        payload = json.loads(data)
        assert payload["rows"] == [] and payload["data"]["notice"] == notice
    elif fmt == "md":
        text = data.decode("utf-8")
        assert md_table(text) == [] and "| rank | symbol | name |" in text
        assert "No security passed every filter." in text and notice in md_unescape(text)
        assert "impossible 22" in text
    else:
        wb = workbook(data)
        ws = wb["watchlist"]
        assert [c.value for c in ws[1]][:3] == ["rank", "symbol", "name"] and xlsx_sheet_rows(ws) == []
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        values = [c.value for c in ws["A"]]
        assert notice in values and "No security passed every filter." in values
        about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r[0]}
        assert about["passed"] == 0 and about["excluded: impossible"] == 22


# ---------------------------------------------------------------- hostile text

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "<script>alert(1)</script>", "a|b",
           "tab\tname", "line\nbreak", "back\\slash `code` *em* _u_ [l](http://x) &amp;"]
FORMULA_LIKE = [n for n in HOSTILE if n.startswith(FORMULA_START)]
HOSTILE_EN = "=cmd|' /C calc'!A0"
HOSTILE_RULE = """
name = "=evil <b>|x</b>"
universe = ["hostile"]

[filters]
profitable = "eps_fy1 > 0"

[scores]
growth = { expr = "eps_growth_fy1", weight = 1 }
"""


@pytest.fixture
def hostile(tmp_path, monkeypatch) -> ExportContext:
    """A project whose universe names try to run formulas, inject HTML and break table cells;
    every member passes, ranked in the order of HOSTILE."""
    write(tmp_path / "config.toml", CONFIG)
    (tmp_path / "universes").mkdir()
    (tmp_path / "data").mkdir()
    symbols = [f"6000{i:02d}.SH" for i in range(1, len(HOSTILE) + 1)]
    with open(tmp_path / "universes" / "hostile.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "name", "exposure", "listed", "name_en"])
        for i, (sym, name) in enumerate(zip(symbols, HOSTILE)):
            w.writerow([sym, name, "core", "true", HOSTILE_EN if i == 0 else f"E{i}"])
    with open(tmp_path / "data" / "consensus.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "fiscal_year", "eps", "actual", "as_of"])
        for i, sym in enumerate(symbols):
            w.writerow([sym, 2025, 1.0, "true", "2026-04-30"])
            w.writerow([sym, 2026, 2.0 - i / 20, "false", "2026-05-31"])
    with open(tmp_path / "data" / "prices.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "close", "currency", "as_of"])
        for sym in symbols:
            w.writerow([sym, 10, "CNY", "2026-06-30"])
    write(tmp_path / "rules" / "hostile.toml", HOSTILE_RULE)
    monkeypatch.chdir(tmp_path)
    result = screen(tmp_path, "rules/hostile.toml", date(2026, 6, 30))
    assert result.included["name"].to_list() == HOSTILE
    return ExportContext(result, generated_at=GENERATED)


def test_hostile_names_stay_text_in_csv(hostile):
    rows = csv_rows(render("csv", hostile))
    names = [r["name"] for r in rows]
    assert names == ["'" + n if n in FORMULA_LIKE else n for n in HOSTILE]
    assert rows[0]["name_en"] == "'" + HOSTILE_EN
    for r in rows:
        for col in ("symbol", "name", "name_en", "themes", "exposure", "currency"):
            assert not r[col].startswith(FORMULA_START), (col, r[col])


def test_hostile_names_stay_text_in_xlsx(hostile):
    wb = workbook(render("xlsx", hostile))
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert not c.value.startswith(FORMULA_START), (ws.title, c.coordinate, c.value)
    rows = xlsx_sheet_rows(wb["watchlist"])
    assert [r["name"] for r in rows] == ["'" + n if n in FORMULA_LIKE else n for n in HOSTILE]
    assert rows[0]["name_en"] == "'" + HOSTILE_EN
    about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r[0]}
    assert about["rule"] == "'=evil <b>|x</b>"


def test_hostile_names_cannot_break_markdown(hostile):
    md = render("md", hostile).decode("utf-8")
    assert not re.search(r"(?<!\\)<", md), "every < is backslash-escaped"
    assert md.splitlines()[0] == "# =evil \\<b>\\|x\\</b> — as of 2026-06-30"
    rows = _first_table_rows(md)
    width = len(md_cells(rows[0]))
    assert all(len(md_cells(r)) == width for r in rows), "an unescaped | would add a cell"
    assert [r["name"] for r in md_table(md)] == [n.replace("\t", " ").replace("\n", " ") for n in HOSTILE]
    # and as a browser gets it: every row has the header's width, no live tag, no link, no emphasis
    page = md_html(md)
    assert set(md_row_widths(md)) == {width}
    assert "<script" not in page and "<b>" not in page and "<a " not in page and "<em>" not in page
    assert "<code>" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page and "<td>a|b</td>" in page


def test_hostile_names_are_exact_in_json_and_parquet(hostile):
    payload = json.loads(render("json", hostile))
    assert [r["name"] for r in payload["rows"]] == HOSTILE
    assert payload["rows"][0]["name_en"] == HOSTILE_EN
    assert pl.read_parquet(io.BytesIO(render("parquet", hostile)))["name"].to_list() == HOSTILE


# ---------------------------------------------------------------- small units


def test_markdown_escape():
    from screener.outputs.formats.md_format import escape, paragraph

    assert escape("a|b") == "a\\|b"
    assert escape("<x>&") == "\\<x>&"  # Markdown's own escapes only: chat apps show entities as typed
    assert escape("a -> b & c") == "a -> b & c"
    assert escape("&amp; &#60;") == "\\&amp; \\&#60;"  # never an entity
    assert escape("\\`*_[]~") == "\\\\\\`\\*\\_\\[\\]\\~"
    assert escape("one\r\ntwo\nthree\rfour\tfive") == "one two three four five"
    assert escape("") == ""
    assert paragraph("# not a heading") == "\\# not a heading"
    assert paragraph("1. not a list") == "1\\. not a list"


def test_xlsx_helpers():
    from screener.outputs.formats.xlsx_format import display_width, naive_utc, number_format

    assert display_width("浪潮信息") == 8 and display_width("IonQ") == 4 and display_width("") == 0
    assert display_width("ab\n浪潮信息x") == 9
    assert number_format("peg_fy1") == "0.0" and number_format("revision_1m") == "0.0%"
    assert number_format("market_cap") == "#,##0" and number_format("name") is None
    assert naive_utc(GENERATED) == datetime(2026, 11, 26, 8, 30)


def test_json_payload_text_is_the_same_data_with_one_line_per_row():
    import json

    from screener.outputs.report import dumps_payload

    payload = {"rule": "r.toml", "rows": [{"rank": 1, "symbol": "603019.SH", "name": "中科曙光", "themes": ["a"]}],
               "excluded": [{"symbol": "0020.HK", "failed": ["growing"], "reason": "failed growing"}],
               "data": {"notice": None, "dates": [1, 2]}, "warnings": []}
    text = dumps_payload(payload)
    assert json.loads(text) == payload
    assert '    {"rank": 1, "symbol": "603019.SH", "name": "中科曙光", "themes": ["a"]}' in text.splitlines()
    assert json.loads(dumps_payload([payload, payload])) == [payload, payload]
    assert json.loads(dumps_payload([])) == []


def test_excluded_members_encoded_by_polars_read_back_as_the_entries(sample):
    import json
    from datetime import date

    from screener import api
    from screener.config import load_config
    from screener.outputs.report import dumps_payload, excluded_entries, result_payload

    config = load_config(sample / "config.toml")
    for rule in ("esg_compute_leaders", "ai_compute_garp", "bci_listed_exposure"):
        (result,) = api.run(config, api.load_screens(config, [rule]), date(2026, 11, 26))
        written = json.loads(dumps_payload(result_payload(result, for_writing=True)))
        assert written["excluded"] == excluded_entries(result) and written["excluded"]
        assert written == json.loads(json.dumps(result_payload(result) | {"generated_at": written["generated_at"]}))
