"""Every command end to end: on the repository's sample project and on projects the tests write."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, write

AS_OF = "2026-11-26"


def no_traceback(result) -> None:
    assert "Traceback" not in result.output and "Traceback" not in (result.stderr or "")


# -- run ------------------------------------------------------------------------------


def test_run_prints_ranked_table_and_writes_exports(sample, cli):
    r = cli(sample, "run", "rules/esg_compute_leaders.toml", "--as-of", AS_OF)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "ESG compute leaders" in out and "浪潮信息" in out
    assert "SAMPLE DATA" in out
    folder = sample / "watchlists" / "esg_compute_leaders" / AS_OF
    raw = (folder / "esg_compute_leaders.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel shows the Chinese names
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    payload = json.loads((folder / "esg_compute_leaders.json").read_text(encoding="utf-8"))
    assert [r["symbol"] for r in rows] == [r["symbol"] for r in payload["rows"]]
    assert rows[0]["rank"] == "1" and rows[0]["data_notice"].startswith("SAMPLE DATA")
    assert payload["data"]["sample"] is True and "SAMPLE DATA" in payload["data"]["notice"]


def test_run_json_is_the_contract_shape_and_nothing_else(sample, cli):
    r = cli(sample, "run", "rules/esg_compute_leaders.toml", "--as-of", AS_OF, "--json", "--no-export")
    assert r.exit_code == 0
    payload = json.loads(r.stdout)  # stdout is JSON only
    assert payload["rule"] == "rules/esg_compute_leaders.toml" and payload["as_of"] == AS_OF
    assert payload["rows"], "the sample screen selects something"
    first = payload["rows"][0]
    for key in ("rank", "symbol", "name", "score", "components"):
        assert key in first
    assert set(first["components"]) == {"earnings", "esg", "exposure", "value"}
    assert [row["rank"] for row in payload["rows"]] == list(range(1, len(payload["rows"]) + 1))
    scores = [row["score"] for row in payload["rows"]]
    assert scores == sorted(scores, reverse=True)
    assert all({"symbol", "failed"} <= set(e) for e in payload["excluded"])
    assert len(payload["rows"]) + len(payload["excluded"]) == 22
    assert not (sample / "watchlists").exists()


def test_unlisted_members_are_excluded_as_unlisted(sample, cli):
    r = cli(sample, "run", "bci_listed_exposure", "--as-of", AS_OF, "--json", "--no-export")
    payload = json.loads(r.stdout)
    unlisted = {e["symbol"] for e in payload["excluded"] if e["failed"] == ["unlisted"]}
    assert {"PRIVATE:neuralink", "PRIVATE:brainco"} <= unlisted
    assert all(not row["symbol"].startswith("PRIVATE:") for row in payload["rows"])


def test_editing_a_threshold_changes_the_watchlist(sample, cli):
    rule = sample / "rules" / "esg_compute_leaders.toml"
    before = json.loads(cli(sample, "run", str(rule), "--as-of", AS_OF, "--json", "--no-export").stdout)
    rule.write_text(rule.read_text(encoding="utf-8").replace("esg_rating >= 'AA-'", "esg_rating >= 'AA'"), encoding="utf-8")
    after = json.loads(cli(sample, "run", str(rule), "--as-of", AS_OF, "--json", "--no-export").stdout)
    assert set(r["symbol"] for r in after["rows"]) < set(r["symbol"] for r in before["rows"])
    dropped = {r["symbol"] for r in before["rows"]} - {r["symbol"] for r in after["rows"]}
    aa_minus = {"688208.SH", "002268.SZ", "300455.SZ", "603660.SH", "300130.SZ"}
    assert dropped and dropped <= aa_minus


def test_as_of_in_the_past_uses_only_what_was_known(sample, cli):
    early = json.loads(cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-05-29", "--json", "--no-export").stdout)
    late = json.loads(cli(sample, "run", "esg_compute_leaders", "--as-of", AS_OF, "--json", "--no-export").stdout)
    assert early["as_of"] == "2026-05-29"
    assert early["rows"] != late["rows"]


def test_several_rules_in_one_run_give_a_json_list(sample, cli):
    r = cli(sample, "run", "esg_compute_leaders", "quantum_pure_plays", "--as-of", AS_OF, "--json", "--no-export")
    assert r.exit_code == 0
    payload = json.loads(r.stdout)
    assert [p["rule_name"] for p in payload] == ["ESG compute leaders", "Quantum pure-plays"]


def test_parquet_export_and_out_folder(sample, cli, tmp_path):
    import polars as pl

    out = tmp_path / "elsewhere"
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", AS_OF, "--format", "parquet,json", "--out", str(out))
    assert r.exit_code == 0, r.output
    table = pl.read_parquet(out / "esg_compute_leaders" / AS_OF / "esg_compute_leaders.parquet")
    payload = json.loads((out / "esg_compute_leaders" / AS_OF / "esg_compute_leaders.json").read_text(encoding="utf-8"))
    assert table["symbol"].to_list() == [r["symbol"] for r in payload["rows"]]
    assert table["score"].to_list() == pytest.approx([r["score"] for r in payload["rows"]], abs=1e-6)


@pytest.mark.parametrize("args,needle", [
    (["--format", "pdf"], "unknown format"),
    (["--lang", "fr"], "'fr' is not one of 'en', 'zh'"),
    (["--as-of", "26/11/2026"], "YYYY-MM-DD"),
])
def test_bad_options_exit_2(sample, cli, args, needle):
    r = cli(sample, "run", "esg_compute_leaders", *args)
    assert r.exit_code == 2 and needle in r.output
    no_traceback(r)


def test_export_failure_exits_1_after_showing_the_screen(sample, cli):
    (sample / "out").mkdir()
    blocker = sample / "out" / "esg_compute_leaders"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", AS_OF, "--out", str(sample / "out"))
    assert r.exit_code == 1
    assert "浪潮信息" in r.stdout and "were not written" in r.stderr and "disk has room" in r.stderr
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be"


def test_golden_run_json(tiny, cli):
    """One run's JSON on a world the test writes, compared with tests/golden/small_run.json."""
    r = cli(tiny, "run", "rules/small.toml", "--as-of", "2026-06-30", "--json", "--no-export")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    payload.pop("generated_at")
    golden = Path(__file__).parent / "golden" / "small_run.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert payload == json.loads(golden.read_text(encoding="utf-8"))


# -- bad input ----------------------------------------------------------------------


def test_broken_rule_names_file_line_column_and_a_fix(sample, cli):
    rule = sample / "rules" / "esg_compute_leaders.toml"
    text = rule.read_text(encoding="utf-8").replace('profitable = "eps_fy1 > 0"', 'profitable = "eps_fy1 > 0 and eps_grwth_fy1 > 0.1"')
    rule.write_text(text, encoding="utf-8")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("profitable"))
    col = text.splitlines()[line - 1].index("eps_grwth_fy1") + 1
    for args in (["run", "rules/esg_compute_leaders.toml"], ["check"]):
        r = cli(sample, *args)
        assert r.exit_code == 2
        assert f"rules/esg_compute_leaders.toml:{line}:{col}: error[unknown-field]" in r.output
        assert "did you mean `eps_growth_fy1`?" in r.output
        no_traceback(r)


def test_a_filter_cannot_run_code(sample, cli, tmp_path):
    marker = tmp_path / "pwned"
    write(sample / "rules" / "evil.toml", f"""
        universe = ["esg_compute"]
        [filters]
        evil = "__import__('os').system('touch {marker}')"
    """)
    r = cli(sample, "run", "rules/evil.toml", "--no-export")
    assert r.exit_code == 2 and "rules/evil.toml:3:" in r.output
    assert not marker.exists()
    no_traceback(r)


def test_check_passes_on_the_starter_rules(sample, cli):
    r = cli(sample, "check")
    assert r.exit_code == 0, r.output
    assert len([l for l in r.stdout.splitlines() if ": ok" in l]) >= 4


def test_check_json_reports_every_problem(sample, cli):
    write(sample / "rules" / "bad.toml", """
        universe = ["esg_compte"]
        [filters]
        a = "name > 3"
        [scores]
        b = { expr = "esg_score", weight = -1 }
    """)
    r = cli(sample, "check", "--json")
    assert r.exit_code == 2
    report = {entry["path"]: entry for entry in json.loads(r.stdout)}
    codes = sorted(p["code"] for p in report["rules/bad.toml"]["problems"])
    assert codes == ["bad-weight", "type-mismatch", "unknown-universe"]
    assert report["rules/esg_compute_leaders.toml"]["ok"] is True


def test_bad_config_is_a_clean_error(sample, cli):
    write(sample / "config.toml", '[paths]\nrulez = "rules"\n[schedule]\ntimezone = "Mars/Olympus"\n')
    r = cli(sample, "check")
    assert r.exit_code == 2
    assert "config.toml:2:1: error[unknown-key]: unknown key `rulez` in [paths]" in r.output
    assert "did you mean `rules`?" in r.output
    assert "unknown timezone 'Mars/Olympus'" in r.output
    no_traceback(r)


def test_missing_config_is_a_clean_error(tmp_path, cli):
    r = cli(tmp_path, "check")
    assert r.exit_code == 2 and "no config file" in r.output and "--config" in r.output


def test_config_option_reads_paths_relative_to_the_file(sample, cli, tmp_path):
    r = cli(tmp_path, "run", str(sample / "rules" / "quantum_pure_plays.toml"), "--config", str(sample / "config.toml"),
            "--as-of", AS_OF, "--json", "--no-export")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"]


def test_bad_data_cell_stops_the_run_with_row_and_column(sample, cli):
    path = sample / "data" / "sample" / "consensus.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[17].split(",")
    cells[2] = "n/a"
    lines[17] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli(sample, "run", "esg_compute_leaders", "--no-export")
    assert r.exit_code == 2
    assert "data/sample/consensus.csv:18: error[number]: row 17, column eps: 'n/a' is not a number" in r.output
    no_traceback(r)


# -- explain --------------------------------------------------------------------------


def test_explain_in_and_out(sample, cli):
    r = cli(sample, "explain", "esg_compute_leaders", "000977.SZ", "--as-of", AS_OF)
    assert r.exit_code == 0 and "IN" in r.stdout and "rank 1" in r.stdout and "SAMPLE DATA" in r.stdout
    r = cli(sample, "explain", "esg_compute_leaders", "苏州科达", "--as-of", AS_OF, "--json")
    ex = json.loads(r.stdout)
    assert ex["symbol"] == "603660.SH" and ex["included"] is False
    growing = next(f for f in ex["filters"] if f["name"] == "growing")
    assert growing["verdict"] == "fail" and growing["missing"] == ["eps_growth_fy1"]
    assert any("eps_fy0 is -0.3000" in n for n in ex["notes"])
    assert {c["name"] for c in ex["components"]} == {"earnings", "esg", "exposure", "value"}


def test_explain_missing_value_verdict(sample, cli):
    write(sample / "rules" / "needs_esg.toml", """
        universe = ["ai_compute"]
        [filters]
        rated = "esg_rating >= 'A'"
    """)
    ex = json.loads(cli(sample, "explain", "rules/needs_esg.toml", "寒武纪", "--json").stdout)
    assert ex["filters"][0]["verdict"] == "missing" and ex["filters"][0]["missing"] == ["esg_rating"]
    assert "missing esg_rating" in ex["reason"]


def test_explain_unlisted_and_bare_code(sample, cli):
    ex = json.loads(cli(sample, "explain", "bci_listed_exposure", "Neuralink", "--json").stdout)
    assert ex["symbol"] == "PRIVATE:neuralink" and ex["reason"].startswith("unlisted")
    ex = json.loads(cli(sample, "explain", "esg_compute_leaders", "603019", "--json", "--as-of", AS_OF).stdout)
    assert ex["symbol"] == "603019.SH"


def test_explain_unknown_symbol_suggests(sample, cli):
    r = cli(sample, "explain", "esg_compute_leaders", "中科曙")
    assert r.exit_code == 2 and "did you mean `603019.SH` (中科曙光)?" in r.output
    r = cli(sample, "explain", "esg_compute_leaders", "IONQ.US")
    assert r.exit_code == 2 and "not in this rule's universes" in r.output and "quantum" in r.output
    no_traceback(r)


def test_explain_hk_listing_reporting_in_cny_shows_fx(sample, cli):
    write(sample / "rules" / "hk.toml", """
        universe = ["esg_reporters"]
        [scores]
        value = { expr = "pe_fy1", weight = 1, higher_is_better = false }
    """)
    ex = json.loads(cli(sample, "explain", "rules/hk.toml", "0268.HK", "--json", "--as-of", AS_OF).stdout)
    assert any("EPS reported in CNY, converted" in n for n in ex["notes"])


# -- universes and data check --------------------------------------------------------------


def test_universes_lists_counts(sample, cli):
    r = cli(sample, "universes", "--json")
    counts = {u["universe"]: u["members"] for u in json.loads(r.stdout)}
    assert counts["esg_compute"] == 22 and counts["esg_reporters"] == 20
    assert {"quantum", "bci", "ai_compute"} <= set(counts)


def test_universe_members_json_with_esg(sample, cli):
    r = cli(sample, "universes", "esg_compute", "--json")
    members = {m["symbol"]: m for m in json.loads(r.stdout)}
    assert len(members) == 22
    assert members["603019.SH"]["esg_rating"] == "AA+" and members["603019.SH"]["name"] == "中科曙光"
    assert members["920190.BJ"]["esg_rating"] == "A+"
    assert {"symbol", "name", "exposure", "listed"} <= set(members["603019.SH"])
    r = cli(sample, "universes", "quantun")
    assert r.exit_code == 2 and "did you mean `quantum`?" in r.output


def test_universes_table(sample, cli):
    r = cli(sample, "universes", "bci")
    assert r.exit_code == 0 and "三博脑科" in r.stdout and "Neuralink" in r.stdout


def test_data_check_ok_on_sample(sample, cli):
    r = cli(sample, "data", "check")
    assert r.exit_code == 0, r.output
    assert "data/sample/consensus.csv: ok" in r.stdout and "universes/esg_compute.csv: ok" in r.stdout


def test_data_check_reports_every_problem(sample, cli):
    d = sample / "data" / "sample"
    lines = (d / "consensus.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[17].split(",")
    cells[2] = "n/a"
    lines[17] = ",".join(cells)
    lines.append(lines[5])  # a duplicate row
    (d / "consensus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "esg.csv").write_text("symbol,rater,rating,as_of\n603019.SH,绿发信评,ZZ,2026-04-21\n60301.SH,x,AA,2026-13-01\n",
                               encoding="utf-8")
    r = cli(sample, "data", "check", "--json")
    assert r.exit_code == 2
    files = json.loads(r.stdout)["files"]
    cons = [p["message"] for p in files["data/sample/consensus.csv"]]
    assert "row 17, column eps: 'n/a' is not a number" in cons
    assert any(m.startswith(f"row {len(lines) - 1} repeats row 5") for m in cons)
    esg = [p["message"] for p in files["data/sample/esg.csv"]]
    assert any("column rating: 'ZZ' is not an ESG grade" in m for m in esg)
    assert any("column symbol: '60301.SH' is not a canonical symbol" in m for m in esg)
    assert any("column as_of: '2026-13-01' is not a date" in m for m in esg)
    assert files["data/sample/prices.csv"] == []


def test_data_check_folder_argument_and_missing_columns(sample, cli, tmp_path):
    write(tmp_path / "snap" / "prices.csv", "symbol,close\n603019.SH,10\n")
    r = cli(sample, "data", "check", str(tmp_path / "snap"))
    assert r.exit_code == 2 and "missing required columns `currency`, `as_of`" in r.output


def test_data_check_reports_bad_jobs(sample, cli):
    cfg = sample / "config.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('calendar = "XSHG"', 'calendar = "SSE"'), encoding="utf-8")
    r = cli(sample, "data", "check")
    assert r.exit_code == 2 and "unknown calendar 'SSE'" in r.output


def test_gbk_file_is_a_clean_error(sample, cli):
    (sample / "data" / "sample" / "esg.csv").write_bytes("symbol,rater,rating,as_of\n603019.SH,绿发信评,AA,2026-04-21\n".encode("gbk"))
    r = cli(sample, "data", "check")
    assert r.exit_code == 2 and "not UTF-8" in r.output


def test_parquet_snapshot_files_are_accepted(tiny, cli):
    import polars as pl

    csv_path = tiny / "data" / "prices.csv"
    frame = pl.read_csv(csv_path, try_parse_dates=True)
    frame.write_parquet(tiny / "data" / "prices.parquet")
    csv_path.unlink()
    r = cli(tiny, "run", "small", "--as-of", "2026-06-30", "--json", "--no-export")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"][0]["symbol"] == "603001.SH"


# -- the real process --------------------------------------------------------------------


def test_console_script_in_a_real_process(sample):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    p = subprocess.run([sys.executable, "-m", "screener", "run", "esg_compute_leaders", "--as-of", AS_OF, "--json",
                        "--no-export"], cwd=sample, capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"]
    p = subprocess.run([sys.executable, "-m", "screener", "explain", "esg_compute_leaders", "nothing-like-it"],
                       cwd=sample, capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "error[unknown-symbol]" in p.stderr


def test_help_lists_the_commands(cli, tmp_path):
    r = cli(tmp_path, "--help")
    for command in ("run", "check", "explain", "universes", "data"):
        assert command in r.stdout


# -- the library surface and docs ------------------------------------------------------


def test_public_surface_is_deliberate():
    import screener

    assert sorted(screener.__all__) == [
        "Config", "InputError", "Problem", "Screen", "ScreenResult", "backtest", "check_rules", "explain",
        "load_config", "load_rule", "load_snapshot", "run_screen", "screen",
    ]
    for name in screener.__all__:
        assert getattr(screener, name) is not None


def test_rules_doc_is_current():
    from screener.rules.docs import render_rules_md

    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == render_rules_md(), \
        "docs/rules.md is stale: run python -m screener.rules.docs > docs/rules.md"


def test_run_warns_when_data_is_stale_and_exports_state_the_data_dates(sample, cli):
    fresh = cli(sample, "run", "esg_compute_leaders", "--as-of", AS_OF, "--json", "--no-export")
    assert "warning" not in fresh.stderr
    data = json.loads(fresh.stdout)["data"]
    assert (data["prices_as_of"], data["consensus_as_of"], data["esg_as_of"]) == ("2026-11-20", "2026-11-20", "2026-04-21")
    late = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-12-31", "--no-export")
    assert "warning: the newest price data is from 2026-11-20 (41 days before 2026-12-31" in late.stderr
    assert "consensus data" not in late.stderr  # 41 days is within the 45 allowed for consensus
    cfg = sample / "config.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[freshness]\nconsensus_days = 30\n", encoding="utf-8")
    later = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-12-31", "--no-export")
    assert "warning: the newest consensus data is from 2026-11-20" in later.stderr
