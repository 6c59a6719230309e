"""The terminal tables from the user's side: the real CLI at 80, 100, 120 and 200 columns prints every
number and symbol whole, names the columns it left out, shows them all with --wide, writes plain text
to a pipe and ends cut free text with "…"."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date

import pytest
from rich.cells import cell_len

from screener.outputs.terminal import _NORM_LABEL, _cell

WIDTHS = (80, 100, 120, 200)
RULES = ("ai_compute_garp", "esg_reporters_by_market", "esg_compute_leaders")
ANSI = re.compile(r"\x1b\[")
BOX = set("─│┃━┏┓┗┛┡┩┬┴┼╇╋└┘┌┐├┤")
FOOTER = re.compile(r"\+(\d+) columns? \((.*)\): (?:--wide|--json) shows (?:it|them)")


def _columns(sample, rule):
    """Every column of the rule's table as (name, number?, cell of a JSON row), from the library's
    own field list; values come from `run --json`."""
    from screener import api
    from screener.config import load_config
    from screener.outputs.terminal import terminal_fields

    config = load_config(sample / "config.toml")
    screens = api.load_screens(config, [rule])
    result = api.run(config, screens, date(2026, 11, 20))[0]
    cols = [("score", lambda r: f"{r['score']:.3f}")]
    cols += [(f"{s.name} ({_NORM_LABEL[s.normalize]})", lambda r, n=s.name: f"{r['components'][n]:.2f}")
             for s in result.screen.scores]  # a component's header says how it was normalised
    cols += [(f, lambda r, f=f: _cell(f, r)) for f in terminal_fields(result)]
    return cols


def _run(cli, monkeypatch, sample, width, *args):
    if width is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", str(width))
    r = cli(sample, *args)
    assert r.exit_code == 0, r.output
    return r.stdout


def _json_rows(cli, monkeypatch, sample, rule):
    out = _run(cli, monkeypatch, sample, None, "run", rule, "--no-export", "--json", "--as-of", "2026-11-20")
    return json.loads(out)["rows"]


def _whole(cell: str, line: str) -> bool:
    return re.search(r"(?<!\S)" + re.escape(cell) + r"(?!\S)", line) is not None


def _hidden(out: str) -> list[str]:
    m = FOOTER.search(" ".join(out.split()))  # the footer may wrap like any line
    if not m:
        return []
    names = [n.strip() for n in m.group(2).split(",")]
    assert int(m.group(1)) == len(names)
    return names


def _row_line(out: str, symbol: str) -> str:
    lines = [ln for ln in out.splitlines() if _whole(symbol, ln)]
    assert len(lines) == 1, (symbol, out)
    return lines[0]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("width", WIDTHS)
def test_run_fits_the_width_and_prints_every_number_whole(sample, cli, monkeypatch, rule, width):
    rows = _json_rows(cli, monkeypatch, sample, rule)
    cols = _columns(sample, rule)
    out = _run(cli, monkeypatch, sample, width, "run", rule, "--no-export", "--as-of", "2026-11-20")
    assert max(cell_len(ln) for ln in out.splitlines()) <= width, out
    hidden = _hidden(out)
    names = [c for c, _ in cols]
    assert set(hidden) <= set(names) | {"themes", "why in", "name", f"# in market"}, hidden
    if width >= 200 and rule != "esg_reporters_by_market":
        assert hidden == [], out
    if width == 80 and len(cols) > 8:
        assert hidden, out  # something had to give at 80 columns, and the footer says what
    for r in rows:
        line = _row_line(out, r["symbol"])  # the symbol whole, on one line
        assert _whole(str(r["rank"]) if r["rank"] is not None else "—", line)
        for name, cell in cols:
            if name not in hidden:
                assert _whole(cell(r), line), (name, cell(r), line)
        free = " ".join([r["name"] or "", ", ".join(r.get("themes") or []), r.get("reason") or ""])
        for token in line.split():
            if "…" in token:  # only free text may be cut, and the cut ends with "…"
                assert token.endswith("…") and token[:-1] in free, (token, line)
    assert "score" not in hidden and "symbol" not in hidden


@pytest.mark.parametrize("rule", RULES)
def test_wide_shows_every_column(sample, cli, monkeypatch, rule):
    rows = _json_rows(cli, monkeypatch, sample, rule)
    cols = _columns(sample, rule)
    out = _run(cli, monkeypatch, sample, 80, "run", rule, "--no-export", "--wide", "--as-of", "2026-11-20")
    assert "--wide shows" not in out and _hidden(out) == []
    for r in rows:
        line = _row_line(out, r["symbol"])
        for name, cell in cols:
            assert _whole(cell(r), line), (name, cell(r), line)
        assert _whole(r["name"], line)


def test_piped_output_is_plain_text(sample, cli, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # even when colour is forced, a pipe gets no escapes
    for args in (("run", "ai_compute_garp", "--no-export", "--as-of", "2026-11-20"), ("universes", "quantum"),
                 ("universes",), ("explain", "ai_compute_garp", "NVDA.US", "--as-of", "2026-11-20")):
        for width in (None, 80):
            out = _run(cli, monkeypatch, sample, width, *args)
            assert not ANSI.search(out), args
            assert not BOX & set(out), (args, out)


def test_a_pipe_without_a_width_gets_every_column(sample, cli, monkeypatch):
    out = _run(cli, monkeypatch, sample, None, "run", "ai_compute_garp", "--no-export", "--as-of", "2026-11-20")
    assert _hidden(out) == [] and "--wide shows" not in out


def test_universe_notes_end_with_an_ellipsis_when_cut(sample, cli, monkeypatch):
    import polars as pl

    members = pl.read_csv(sample / "universes" / "quantum.csv", infer_schema_length=0)
    notes = {r["symbol"]: r["note"] for r in members.iter_rows(named=True)}
    out = _run(cli, monkeypatch, sample, 80, "universes", "quantum")
    assert max(cell_len(ln) for ln in out.splitlines()) <= 80, out
    cut = 0
    for symbol, note in notes.items():
        line = _row_line(out, symbol)
        if note and note not in line:
            cut += 1
            assert line.rstrip().endswith("…"), line
            shown = line.rstrip()[:-1].split("  ")[-1].strip()
            assert note.startswith(shown), (shown, note)
    assert cut, "a note of the quantum universe is longer than 80 columns allow"
    wide = _run(cli, monkeypatch, sample, 80, "universes", "quantum", "--wide")
    for symbol, note in notes.items():
        assert note is None or note in _row_line(wide, symbol)


def test_backtest_fits_and_wide(sample, cli, monkeypatch):
    args = ("backtest", "esg_compute_leaders", "--from", "2026-06-30", "--to", "2026-11-20", "--cost-bps", "10")
    for width in WIDTHS:
        out = _run(cli, monkeypatch, sample, width, *args)
        assert max(cell_len(ln) for ln in out.splitlines()) <= width, out
        for token in out.split():
            assert not re.match(r"^[-+]?\d[\d.,%]*…$", token), (token, out)
        if _hidden(out):
            assert width < 200
    wide = _run(cli, monkeypatch, sample, 80, *args, "--wide")
    assert _hidden(wide) == [] and "buckets" in wide


def _script(sample, width, *args) -> str:
    """The CLI in a pseudo-terminal (util-linux `script`), as a person at a terminal sees it."""
    cmd = " ".join([sys.executable, "-m", "screener", *args])
    env = dict(os.environ, COLUMNS=str(width), TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], cwd=sample, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.replace("\r\n", "\n")


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux `script` for a pseudo-terminal")
@pytest.mark.parametrize("width", (80, 120))
def test_in_a_terminal_boxed_cells_hold_whole_numbers(sample, cli, monkeypatch, width):
    rule = "ai_compute_garp"
    rows = {r["symbol"]: r for r in _json_rows(cli, monkeypatch, sample, rule)}
    cols = dict(_columns(sample, rule))
    raw = _script(sample, width, "run", rule, "--no-export", "--as-of", "2026-11-20")
    assert ANSI.search(raw)  # a terminal gets colour
    out = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    lines = out.splitlines()
    assert max(cell_len(ln) for ln in lines) <= width, out
    heads = [ln for ln in lines if ln.startswith("┃")]
    header_cells = zip(*[[c.strip() for c in ln.split("┃")[1:-1]] for ln in heads])
    headers = ["".join(parts) if all(p.endswith("_") for p in parts[:-1] if p) else " ".join(p for p in parts if p)
               for parts in header_cells]
    data = [[c.strip() for c in ln.split("│")[1:-1]] for ln in lines if ln.startswith("│")]
    assert len(data) == len(rows)
    checked = 0
    for cells in data:
        r = rows[cells[headers.index("symbol")]]
        for h, c in zip(headers, cells):
            if h in cols:
                assert c == cols[h](r), (h, c)
                checked += 1
    assert checked >= len(rows) * 4
    hidden = _hidden(out)
    assert set(cols) - set(headers) == set(hidden) - {"themes", "name"}


def test_history_moves_in_zh_rise_red_and_fall_green():
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    import screener.outputs.terminal as terminal

    run = SimpleNamespace
    changes = SimpleNamespace(before=run(run_id=1, as_of="2026-11-19"), after=run(run_id=2, as_of="2026-11-20"),
                              empty=False, entered=[], left=[],
                              moved=[{"symbol": "A.SH", "name": "甲", "from_rank": 3, "to_rank": 1, "change": 2,
                                      "from_score": 0.5, "to_score": 0.7},
                                     {"symbol": "B.SH", "name": "乙", "from_rank": 1, "to_rank": 3, "change": -2,
                                      "from_score": 0.7, "to_score": 0.5}])
    for lang, up, down in (("zh", "red", "green"), ("en", "green", "red")):
        buf = StringIO()
        con = Console(file=buf, force_terminal=True, color_system="standard", width=100)
        terminal.print_changes("r", changes, lang=lang, console=con)
        text = buf.getvalue()
        up_line = next(ln for ln in text.splitlines() if "A.SH" in ln)
        down_line = next(ln for ln in text.splitlines() if "B.SH" in ln)
        codes = {"red": "\x1b[31m", "green": "\x1b[32m"}
        assert codes[up] in up_line and codes[down] not in up_line, (lang, up_line)
        assert codes[down] in down_line and codes[up] not in down_line, (lang, down_line)


def test_history_runs_print_dates_and_digests_whole(sample, cli, monkeypatch):
    for day in ("2026-10-30", "2026-11-20"):
        _run(cli, monkeypatch, sample, None, "run", "esg_compute_leaders", "--as-of", day, "--format", "json")
    runs = json.loads(_run(cli, monkeypatch, sample, None, "history", "esg_compute_leaders", "--json"))
    for width in (80, 120):
        out = _run(cli, monkeypatch, sample, width, "history", "esg_compute_leaders")
        assert max(cell_len(ln) for ln in out.splitlines()) <= width, out
        hidden = _hidden(out)
        for r in runs:
            line = next(ln for ln in out.splitlines() if ln.split()[:2] == [str(r["run_id"]), r["as_of"]])
            for key, cell in (("generated_at", r["generated_at"]), ("rule sha256", r["rule_sha256"][:10]),
                              ("passed", str(r["passed"])), ("included", str(r["included"]))):
                assert key in hidden or _whole(cell, line), (key, line)
        assert "…" not in out
        assert hidden == [] or "--json shows" in out  # history has no --wide; its JSON has every column


def test_zh_terminal_table_has_chinese_headers_values_and_units(sample, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    r = cli(sample, "run", "esg_reporters_by_market", "--no-export", "--lang", "zh")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if "代码" in line)
    assert "名称" in header and "综合得分" in header and "营业收入(FY1一致预期)（亿）" in header
    hik = next(line for line in r.stdout.splitlines() if "002415.SZ" in line)
    assert "A股" in hik.split() and "1124.56" in hik.split()  # revenue 112,456,314,569 yuan in 亿
    en = cli(sample, "run", "esg_reporters_by_market", "--no-export").stdout
    assert "代码" not in en and "A股" not in en


def test_zh_terminal_names_what_excluded_members_in_chinese(sample, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = cli(sample, "run", "esg_reporters_by_market", "--no-export", "--lang", "zh").stdout
    assert "未入选：profitable：2，未进前 3（按 market 分组）：12" in out


def test_history_diff_in_zh_translates_titles_headers_and_reasons():
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    import screener.outputs.terminal as terminal

    run = SimpleNamespace
    changes = SimpleNamespace(before=run(run_id=1, as_of="2026-11-19"), after=run(run_id=2, as_of="2026-11-20"),
                              empty=False, moved=[],
                              entered=[{"symbol": "A.SH", "name": "甲", "rank": 3, "reason": "rose into the top 10"}],
                              left=[{"symbol": "B.SH", "name": "乙", "from_rank": 9, "reason": "rank 12, below top 10"}])
    buf = StringIO()
    terminal.print_changes("r", changes, lang="zh", console=Console(file=buf, width=120))
    text = buf.getvalue()
    assert "新进" in text and "移出" in text and "代码" in text
    assert "rose into the top 10" not in text and "below top 10" not in text
