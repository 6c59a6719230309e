"""`screener test`: the rules' `[[expect]]` cases on the configured data, with file:line,
expected and actual; exit 1 on a failure, 0 when all hold or there are none, 2 on bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from .conftest import write

D1, D2 = "2026-07-01", "2026-07-02"
A, B, C = "603001.SH", "603002.SH", "0001.HK"

HEAD = """
name = "Expectations"
universe = ["tiny"]

[scores]
size = { expr = "coalesce(close, 0)", weight = 1 }

[output]
top = 1
"""


def expect(symbol: str, as_of: str = D2, **conditions) -> str:
    lines = ["", "[[expect]]", f'as_of = "{as_of}"', f'symbol = "{symbol}"']
    lines += [f"{k} = {str(v).lower()}" for k, v in conditions.items()]
    return "\n".join(lines) + "\n"


def expect_lines(path: Path) -> list[int]:
    """The line of each `[[expect]]` header, as the rule checker reports an expectation."""
    return [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == "[[expect]]"]


@pytest.fixture
def project(tiny) -> Path:
    """tiny's world with closes that rank B, A, C as of D2 (and A, B, C as of D1)."""
    rows = ["symbol,close,currency,as_of"]
    for day, closes in ((D1, {A: 10, B: 9, C: 8}), (D2, {B: 10, A: 9, C: 8})):
        rows += [f"{s},{c},CNY,{day}" for s, c in {**closes, "IONQ.US": 1}.items()]
    (tiny / "data" / "prices.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tiny


def test_all_expectations_hold(project, cli):
    write(project / "rules" / "expects.toml", HEAD + expect(B, in_watchlist=True) + expect(A, rank_at_most=2)
          + expect(C, in_watchlist=False, rank_at_most=3))
    r = cli(project, "test", "expects")
    assert r.exit_code == 0, r.output
    assert r.stdout == "3 expectations hold (rules/expects.toml)\n"


def test_each_failure_names_the_file_line_the_expectation_and_the_engines_reason(project, cli):
    rule = write(project / "rules" / "expects.toml", HEAD
                 + expect(B, in_watchlist=True)                     # holds
                 + expect(A, in_watchlist=True)                     # rank 2, below top 1
                 + expect(C, rank_at_most=1)                        # rank 3
                 + expect("PRIVATE:x", in_watchlist=True)           # unlisted, never scored
                 + expect(B, in_watchlist=False)                    # it is in
                 + expect(A, D1, in_watchlist=True, rank_at_most=1))  # holds on D1
    lines = expect_lines(rule)
    r = cli(project, "test", "rules/expects.toml")
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines() == [
        f"rules/expects.toml:{lines[1]}: expected {A} in the watchlist as of {D2}, but it is not (rank 2: rank 2, below top 1)",
        f"rules/expects.toml:{lines[2]}: expected {C} at rank 1 or better as of {D2}, but it is at rank 3 "
        "(rank 3: rank 3, below top 1)",
        f"rules/expects.toml:{lines[3]}: expected PRIVATE:x in the watchlist as of {D2}, but it is not (unlisted)",
        f"rules/expects.toml:{lines[4]}: expected {B} not in the watchlist as of {D2}, but it is (rank 1)",
        "4 of 6 expectations failed",
    ]

    r = cli(project, "test", "rules/expects.toml", "--json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    assert (report["ok"], report["total"], report["failed"]) == (False, 6, 4)
    first_failure = next(e for e in report["expectations"] if not e["ok"])
    assert first_failure == {
        "path": "rules/expects.toml", "line": lines[1], "rule": "Expectations", "as_of": D2, "symbol": A, "ok": False,
        "expected": {"in_watchlist": True, "rank_at_most": None},
        "actual": {"member": True, "in_watchlist": False, "rank": 2, "reason": "rank 2, below top 1"},
        "failures": [f"expected {A} in the watchlist as of {D2}, but it is not (rank 2: rank 2, below top 1)"],
    }


def test_no_expectations_is_not_a_failure(project, cli):
    r = cli(project, "test", "small")
    assert (r.exit_code, r.stdout) == (0, "no expectations in rules/small.toml\n")
    write(project / "rules" / "other.toml", HEAD)
    r = cli(project, "test")  # every rule in rules/
    assert (r.exit_code, r.stdout) == (0, "no expectations in rules/other.toml, rules/small.toml\n")
    r = cli(project, "test", "--json")
    assert json.loads(r.stdout) == {"ok": True, "files": ["rules/other.toml", "rules/small.toml"], "total": 0,
                                    "failed": 0, "expectations": []}


def test_a_buffered_rule_is_tested_against_the_configured_history_which_it_never_writes(project, cli):
    rule = write(project / "rules" / "kept.toml", HEAD + "keep = 2\n" + expect(A, in_watchlist=True))
    (line,) = expect_lines(rule)
    r = cli(project, "test", "kept")
    assert r.exit_code == 1  # no history: plain top, and A ranks 2
    assert r.stdout.splitlines()[0] == \
        f"rules/kept.toml:{line}: expected {A} in the watchlist as of {D2}, but it is not (rank 2: rank 2, below top 1)"
    assert cli(project, "run", "kept", "--as-of", D1).exit_code == 0  # A leads on D1: P of D2
    db = project / "out" / "history.sqlite"
    before = db.read_bytes()
    r = cli(project, "test", "kept")
    assert (r.exit_code, r.stdout) == (0, "1 expectation holds (rules/kept.toml)\n")
    assert db.read_bytes() == before and not (project / "out" / "kept" / D2).exists()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


def test_one_screen_per_rule_and_date(project, cli, monkeypatch):
    from screener.engine import screen

    calls = []
    real = screen.run_screen

    def counting(s, config, snapshot, as_of, *args, **kwargs):
        calls.append((s.stem, as_of.isoformat()))
        return real(s, config, snapshot, as_of, *args, **kwargs)

    monkeypatch.setattr(screen, "run_screen", counting)
    write(project / "rules" / "expects.toml", HEAD + expect(B, in_watchlist=True) + expect(A, rank_at_most=2)
          + expect(A, D1, in_watchlist=True) + expect(C, rank_at_most=3))
    assert cli(project, "test", "expects").exit_code == 0
    assert calls == [("expects", D1), ("expects", D2)]


def test_bad_rules_and_bad_data_exit_2(project, cli):
    write(project / "rules" / "broken.toml", HEAD.replace("top = 1", "top = ") + expect(B, in_watchlist=True))
    r = cli(project, "test", "broken")
    assert r.exit_code == 2 and "rules/broken.toml:" in r.output and "Traceback" not in r.output
    write(project / "rules" / "expects.toml", HEAD + expect(B, in_watchlist=True))
    with open(project / "data" / "prices.csv", "a", encoding="utf-8") as fh:
        fh.write("603001.SH,not a number,CNY,2026-07-03\n")
    r = cli(project, "test", "expects")
    assert r.exit_code == 2 and "prices.csv" in r.output and "Traceback" not in r.output
