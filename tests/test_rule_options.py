"""Rule-file keys for watchlists that behave: score options (`within`, `missing`, `winsorize`),
`[output]` `keep`/`per`/`columns`, `[[pins]]`, `[[expect]]`, symbol and grade literals.

From the user's side first: every golden case of tests/cases/rules/ is run through
`screener check` in a project that has universes and no data at all (nothing is read or run), and
must print each problem as `file:line:col: severity[code]: message` with its hint, exiting 2 on
an error and 0 when there are only warnings. Then good rules: every key lands in the frozen
dataclasses with the values written, and symbols written any vendor's way reach the engine in
their canonical spelling.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from screener.problems import InputError
from screener.rules.expr import InList, Lit
from screener.rules.rule import Expect, Pin, Screen, load_rule, parse_rule

from .conftest import CONFIG, REPO, write
from .test_rule_cases import CASES, KNOWN_UNIVERSES, TODAY, UNIVERSE_SYMBOLS, read_expectations


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config, the repository's universes and an empty rules folder: no data folder at all."""
    write(tmp_path / "config.toml", CONFIG)
    shutil.copytree(REPO / "universes", tmp_path / "universes")
    (tmp_path / "rules").mkdir()
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_check_prints_each_case_where_it_is(project: Path, cli, case: Path):
    expected = read_expectations(case)
    shutil.copy(case, project / "rules" / case.name)
    shown = f"rules/{case.name}"
    r = cli(project, "check", shown)
    out = r.output
    assert "Traceback" not in out
    errors = [e for e in expected if e.severity == "error"]
    assert r.exit_code == (2 if errors else 0), out
    for e in expected:
        head = f"{shown}:{e.line}:{e.col}: {e.severity}[{e.code}]: "
        (line,) = [ln for ln in out.splitlines() if ln.startswith(head)] or [f"missing {head!r} in:\n{out}"]
        assert line.startswith(head), line
        for text in e.messages:
            assert text in line, line
        for text in e.hints:
            assert f"hint: {text}" in out or any(text in ln for ln in out.splitlines() if ln.lstrip().startswith("hint:")), out
    assert not (project / "data").exists() and not (project / "out").exists()  # nothing read, nothing run
    if not errors:
        assert f"{shown}: ok" in out


def test_check_json_lists_a_warning_and_exits_0(project: Path, cli):
    shutil.copy(REPO / "tests" / "cases" / "rules" / "pin-expired.toml", project / "rules" / "pinned.toml")
    r = cli(project, "check", "--json")
    assert r.exit_code == 0, r.output
    (entry,) = json.loads(r.stdout)
    assert entry["name"] == "Pin expired"
    (p,) = entry["problems"]
    assert (p["code"], p["severity"], p["line"], p["col"]) == ("expired-pin", "warning", 15, 9)


GOOD = """\
name = "Watchlist that behaves"
universe = ["esg_compute", "ai_compute"]

[filters]
rated = "esg_rating >= 'AA-pi'"
not_these = "symbol not in ('603019.sh', '000977')"

[scores]
value = { expr = "pe_fy1", weight = 0.2, higher_is_better = false, within = "exchange", missing = "drop", winsorize = 0.05 }
growth = { expr = "eps_growth_fy1", weight = 0.5, missing = "mean", winsorize = 0 }
esg = { expr = "esg_score", weight = 0.3 }

[output]
top = 10
keep = 15
per = "market"
columns = ["market_cap", "analysts", "market_cap", "pe_fy1"]

[[pins]]
symbol = "sz002152"
action = "include"
reason = "core position; review after the annual report"
until = "2099-03-31"

[[pins]]
symbol = "NVDA"
action = "exclude"
reason = "  not a compute-equipment name  "
until = 2099-12-31

[[pins]]
symbol = "688256.SH"
action = "include"
reason = "no end date"

[[expect]]
as_of = "2026-11-20"
symbol = "000977.SZ"
in_watchlist = true

[[expect]]
as_of = 2026-11-20
symbol = "1.603019"
rank_at_most = 5
in_watchlist = false
"""


def good(text: str = GOOD, **kw) -> Screen:
    kw.setdefault("known_universes", KNOWN_UNIVERSES)
    kw.setdefault("universe_symbols", UNIVERSE_SYMBOLS)
    kw.setdefault("today", TODAY)
    return parse_rule(text, "rules/good.toml", "good", **kw)


def test_every_new_key_lands_in_the_dataclasses():
    s = good()
    value, growth, esg = s.scores
    assert (value.within, value.missing, value.winsorize) == ("exchange", "drop", 0.05)
    assert (growth.within, growth.missing, growth.winsorize) == (None, "mean", 0.0)
    assert (esg.within, esg.missing, esg.winsorize) == (None, "worst", None)  # the defaults
    assert (s.top, s.keep, s.per) == (10, 15, "market")
    assert s.columns == ("market_cap", "analysts", "pe_fy1")  # duplicates dropped, order kept
    assert s.pins == (
        Pin("002152.SZ", "include", "core position; review after the annual report", date(2099, 3, 31), 19),
        Pin("NVDA.US", "exclude", "not a compute-equipment name", date(2099, 12, 31), 25),
        Pin("688256.SH", "include", "no end date", None, 31),
    )
    assert s.expects == (
        Expect(date(2026, 11, 20), "000977.SZ", True, None, 36),
        Expect(date(2026, 11, 20), "603019.SH", False, 5, 41),
    )
    assert s.warnings == ()
    # the engine derives every field the rule reads, groups by or shows
    fields = s.fields()
    assert fields[:5] == ["esg_rating", "symbol", "pe_fy1", "eps_growth_fy1", "esg_score"]
    assert {"exchange", "market", "market_cap", "analysts"} <= set(fields)
    assert len(fields) == len(set(fields))


def test_the_dataclasses_are_frozen():
    s = good()
    with pytest.raises(AttributeError):
        s.pins[0].until = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.expects[0].rank_at_most = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.scores[0].within = None  # type: ignore[misc]


def test_keep_equal_to_top_is_a_plain_buffer():
    s = good('universe = ["quantum"]\n[filters]\nx = "eps_fy1 > 0"\n[output]\ntop = 5\nkeep = 5\n')
    assert (s.top, s.keep, s.per, s.columns, s.pins, s.expects) == (5, 5, None, (), (), ())


def test_symbol_literals_reach_the_engine_in_canonical_spelling():
    from screener.engine.polars_backend import to_polars

    s = good()
    node = s.filters[1].node
    assert isinstance(node, InList) and node.negated
    assert [it.value for it in node.items] == ["603019.SH", "000977.SZ"]
    frame = pl.DataFrame({"symbol": ["603019.SH", "000977.SZ", "002152.SZ", None]})
    kept = frame.filter(to_polars(node).fill_null(False))["symbol"].to_list()
    assert kept == ["002152.SZ"]


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("603019.sh", "603019.SH"),   # case
        ("sh603019", "603019.SH"),    # sina
        ("1.603019", "603019.SH"),    # east money
        ("000977", "000977.SZ"),      # bare code, one member has it
        ("NVDA", "NVDA.US"),          # bare ticker
        ("NVDA.O", "NVDA.US"),        # wind's NASDAQ suffix
        ("huawei", "PRIVATE:huawei"),  # bare private slug of a member
        ("６０３０１９．ＳＨ", "603019.SH"),  # full width
    ],
)
def test_symbol_spellings_are_read_like_input_files(written: str, canonical: str):
    s = good(f'universe = ["ai_compute"]\n[filters]\nit = "symbol == \'{written}\'"\n')
    (f,) = s.filters
    assert isinstance(f.node.right, Lit) and f.node.right.value == canonical


def test_a_bare_code_two_members_share_is_an_error():
    text = 'universe = ["u"]\n[filters]\nit = "symbol != \'0020\'"\n'
    with pytest.raises(InputError) as info:
        good(text, known_universes=["u"], universe_symbols={"u": {"0020.HK", "000020.SZ"}})
    (p,) = info.value.problems
    assert (p.code, p.line, p.col) == ("ambiguous-symbol", 3, 17)
    assert "'0020' could be 000020.SZ or 0020.HK" in p.message
    assert "write the market" in p.hint
    # written with its market it is fine
    s = good(text.replace("'0020'", "'0020.hk'"), known_universes=["u"], universe_symbols={"u": {"0020.HK", "000020.SZ"}})
    assert s.filters[0].node.right.value == "0020.HK"


def test_without_universe_members_symbols_are_normalised_but_not_checked():
    s = parse_rule('universe = ["esg_compute"]\n[filters]\nit = "symbol in (\'688256.sh\', \'000977\')"\n'
                   '[[pins]]\nsymbol = "nvda"\naction = "exclude"\nreason = "r"\n', "r.toml", "r")
    assert [it.value for it in s.filters[0].node.items] == ["688256.SH", "000977.SZ"]
    assert s.pins[0].symbol == "NVDA.US"
    with pytest.raises(InputError) as info:  # a spelling no vendor uses is still an error
        parse_rule('universe = ["esg_compute"]\n[filters]\nit = "symbol == \'XXXX.SH\'"\n', "r.toml", "r")
    (p,) = info.value.problems
    assert (p.code, p.line, p.col) == ("bad-symbol", 3, 17)
    assert "'XXXX.SH' is not a symbol" in p.message


def test_an_unknown_universe_does_not_also_make_every_symbol_unknown():
    with pytest.raises(InputError) as info:
        good('universe = ["esg_compte"]\n[filters]\nit = "symbol != \'603019.SH\'"\n')
    assert [p.code for p in info.value.problems] == ["unknown-universe"]


def test_a_pin_expired_before_today_warns_and_stays_in_the_screen():
    text = GOOD.replace('until = "2099-03-31"', 'until = "2026-11-30"')
    s = good(text)
    (w,) = s.warnings
    assert (w.code, w.severity, w.line, w.col) == ("expired-pin", "warning", 23, 9)
    assert w.message == "the pin on 002152.SZ expired on 2026-11-30 and is ignored"
    assert s.pins[0].until == date(2026, 11, 30)  # a backtest at an earlier date still uses it
    assert good(text, today=date(2026, 11, 30)).warnings == ()  # valid through its `until` day


def test_warnings_ride_along_with_errors():
    text = GOOD.replace('until = "2099-03-31"', 'until = "2026-11-30"').replace("keep = 15", "keep = 5")
    with pytest.raises(InputError) as info:
        good(text)
    assert sorted((p.code, p.severity) for p in info.value.problems) == [
        ("expired-pin", "warning"), ("keep-below-top", "error")]


def test_check_rules_shows_warnings_and_load_screens_still_loads(project: Path, monkeypatch):
    from screener import api
    from screener.config import load_config

    shutil.copy(REPO / "tests" / "cases" / "rules" / "pin-expired.toml", project / "rules" / "pinned.toml")
    monkeypatch.chdir(project)
    config = load_config(project / "config.toml")
    (check,) = api.check_rules(config)
    assert check.screen is not None and [p.code for p in check.problems] == ["expired-pin"]
    assert check.screen.pins[0].symbol == "000977.SZ"  # bare code resolved against the universe
    (screen,) = api.load_screens(config, ["rules/pinned.toml"])
    assert screen.warnings == check.problems


def test_a_broken_universe_file_is_reported_when_the_rule_names_symbols(project: Path, monkeypatch):
    from screener import api
    from screener.config import load_config

    write(project / "universes" / "esg_compute.csv", "symbol,name,exposure,listed\n603019.SH,中科曙光,core,maybe\n")
    write(project / "rules" / "plain.toml", 'universe = ["esg_compute"]\n[filters]\nx = "eps_fy1 > 0"\n')
    write(project / "rules" / "pinned.toml", 'universe = ["esg_compute"]\n[filters]\nx = "symbol != \'603019.SH\'"\n')
    monkeypatch.chdir(project)
    pinned, plain = api.check_rules(load_config(project / "config.toml"))  # in file name order
    assert plain.screen is not None and plain.problems == ()  # symbols unused: the file is not read
    assert pinned.screen is None
    assert pinned.problems and all(p.path == "universes/esg_compute.csv" for p in pinned.problems)


def test_a_run_compares_the_canonical_symbols(sample: Path, cli):
    rule = sample / "rules" / "esg_compute_leaders.toml"
    text = rule.read_text(encoding="utf-8").replace(
        "[filters]", "[filters]\nchosen = \"symbol in ('603019.sh', '000977', 'sz002152')\"", 1)
    rule.write_text(text, encoding="utf-8")
    r = cli(sample, "run", str(rule), "--as-of", "2026-11-26", "--json", "--no-export")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    listed = {row["symbol"] for row in payload["rows"]}
    assert listed and listed <= {"603019.SH", "000977.SZ", "002152.SZ"}
    assert len(listed) + len([e for e in payload["excluded"] if "chosen" not in e["failed"]]) == 3


def test_check_remembers_a_checked_universe_by_content_and_still_reports_a_broken_one(sample: Path, tmp_path):
    """`check` reads the universe of a rule that names a symbol through the checked loader the
    first time, then from a small cache keyed by the file's content, without polars; a file that
    changes (here, broken) is checked again and reported."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, SCREENER_CACHE_DIR=str(tmp_path / "cache"))
    probe = ("import sys; from screener.cli import main\n"
             "try:\n    main(['check'], prog_name='screener')\n"
             "except SystemExit as e:\n    print('exit', e.code, 'polars' in sys.modules)\n")

    def check() -> str:
        p = subprocess.run([sys.executable, "-c", probe], cwd=sample, env=env, capture_output=True, text=True,
                           timeout=60)
        return p.stdout.strip().splitlines()[-1] + " " + p.stdout + p.stderr

    assert check().startswith("exit 0 True")  # first: checked with polars, remembered
    assert check().startswith("exit 0 False")  # then: from the cache, no polars
    universe = sample / "universes" / "esg_reporters.csv"  # esg_reporters_by_market names a symbol
    universe.write_text(universe.read_text(encoding="utf-8").replace(",true,", ",maybe,", 1), encoding="utf-8")
    out = check()
    assert out.startswith("exit 2") and "esg_reporters.csv" in out
