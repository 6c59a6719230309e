"""Golden cases for rule-file problems: one case file per error kind in tests/cases/rules/.

Each case file is a rule file whose leading comment lines declare what checking it must report:

    # case: what the file shows (free text)
    # expect: code=unknown-field line=9 col=11
    # expect-message: unknown field `eps_grwth_fy1`
    # expect-hint: did you mean `eps_growth_fy1`?

An `expect` line may end in `severity=warning` for a problem that does not stop the rule from
loading (an expired pin): such a file loads, and its `Screen.warnings` are what is compared.
`line` and `col` are 1-based positions in the case file itself, columns in characters (a Chinese
character is one column), counted by hand. `expect-message` / `expect-hint` are substrings and
belong to the `expect` line above them. A file may declare several `expect` lines; the problems
reported must be exactly those (no more, no fewer). Adding an error kind adds a case file here,
not a test function.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from screener.problems import InputError
from screener.rules.rule import Screen, load_rule

CASES_DIR = Path(__file__).parent / "cases" / "rules"
CASES = sorted(CASES_DIR.glob("*.toml"))
KNOWN_UNIVERSES = ["ai_compute", "bci", "esg_compute", "esg_reporters", "quantum"]  # as `screener check` lists them
# the members of the repository's universes, as `screener check` gives them to the checker
UNIVERSES_DIR = Path(__file__).parent.parent / "universes"
UNIVERSE_SYMBOLS = {
    name: frozenset(row["symbol"] for row in csv.DictReader((UNIVERSES_DIR / f"{name}.csv").open(encoding="utf-8")))
    for name in KNOWN_UNIVERSES
}
TODAY = date(2026, 12, 1)  # pins' expiry is judged against this day

_EXPECT = re.compile(r"^# expect:\s*code=(?P<code>\S+)\s+line=(?P<line>\d+)\s+col=(?P<col>\d+)"
                     r"(?:\s+severity=(?P<severity>error|warning))?\s*$")


@dataclass
class Expected:
    code: str
    line: int
    col: int
    severity: str = "error"
    messages: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code} at {self.line}:{self.col}"


def read_expectations(path: Path) -> list[Expected]:
    """The `# expect...` lines of the comment block that opens the file."""
    out: list[Expected] = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        if not raw.startswith("#"):
            break
        m = _EXPECT.match(raw)
        if m:
            out.append(Expected(m["code"], int(m["line"]), int(m["col"]), m["severity"] or "error"))
        elif raw.startswith("# expect-message:"):
            assert out, f"{path.name}: expect-message before any expect line"
            out[-1].messages.append(raw.split(":", 1)[1].strip())
        elif raw.startswith("# expect-hint:"):
            assert out, f"{path.name}: expect-hint before any expect line"
            out[-1].hints.append(raw.split(":", 1)[1].strip())
        elif raw.startswith("# expect"):
            raise AssertionError(f"{path.name}: cannot read {raw!r}")
    return out


def load_problems(path: Path, monkeypatch: pytest.MonkeyPatch):
    """Check the file with nothing able to run a command; return the problems it reports: the
    errors (and warnings) of the `InputError`, or the warnings of a rule that loads."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"checking {path.name} tried to run a command: {args!r}")

    monkeypatch.setattr(os, "system", refuse)
    monkeypatch.setattr(os, "popen", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    try:
        screen = load_rule(path, known_universes=KNOWN_UNIVERSES, universe_symbols=UNIVERSE_SYMBOLS, today=TODAY)
    except InputError as e:
        return e.problems
    assert screen.warnings, f"{path.name} loads without a problem"
    return screen.warnings


def test_the_case_folder_is_populated():
    assert len(CASES) >= 30, CASES_DIR
    for path in CASES:
        assert read_expectations(path), f"{path.name} declares no `# expect:` line"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_rule_case(path: Path, monkeypatch: pytest.MonkeyPatch):
    expected = read_expectations(path)
    problems = load_problems(path, monkeypatch)
    shown = "\n".join(p.render() for p in problems)

    got = sorted((p.code, p.line, p.col, p.severity) for p in problems)
    want = sorted((e.code, e.line, e.col, e.severity) for e in expected)
    assert got == want, f"{path.name}: expected {[str(e) for e in expected]}, got:\n{shown}"

    for e in expected:
        (problem,) = [p for p in problems if (p.code, p.line, p.col) == (e.code, e.line, e.col)]
        for text in e.messages:
            assert text in problem.message, f"{path.name}: message {problem.message!r} lacks {text!r}"
        for text in e.hints:
            assert problem.hint and text in problem.hint, f"{path.name}: hint {problem.hint!r} lacks {text!r}"
        # every problem names the file and carries the line it points into, for the caret display
        assert problem.path == str(path)
        assert problem.source_line == path.read_text(encoding="utf-8").split("\n")[e.line - 1].rstrip("\r")
        rendered = problem.render()
        assert rendered.startswith(f"{path}:{e.line}:{e.col}: {e.severity}[{e.code}]: ")
        assert problem.to_dict()["line"] == e.line and problem.to_dict()["col"] == e.col


def test_the_caret_sits_under_the_error_after_wide_characters():
    """Columns count characters; the caret line pads a Chinese character with two cells."""
    path = CASES_DIR / "chinese-columns.toml"
    with pytest.raises(InputError) as info:
        load_rule(path, known_universes=KNOWN_UNIVERSES)
    (problem,) = info.value.problems
    source, caret = problem.render().split("\n")[1:3]
    # '  9 | named = "name == \'寒武纪\' and eps_fy11 > 0"': 27 characters before the error,
    # three of them two cells wide, so the caret starts 30 cells after the gutter
    assert source == "  9 | " + problem.source_line
    assert caret == "    | " + " " * 30 + "^" * len("eps_fy11")


SEVERAL_PROBLEMS = """\
name = "Several problems"
universe = ["esg_compute", "robotics"]

[filters]
rated = "esg_rating >= 'AA-'"
growing = "eps_grwth_fy1 >= 0.10"
cheap = "pe_fy1 < '80'"
named = "name == '寒武纪' and maxx(pe_fy1, 1) < 9"

[scores]
earnings = { expr = "eps_growth_fy1", weight = -1 }
esg = { expr = "esg_rating", weight = 0.3 }
value = { expr = "pe_fy1", wieght = 0.2 }

[output]
top = 0
"""


def test_a_file_with_several_problems_reports_all_of_them(tmp_path: Path):
    path = tmp_path / "several.toml"
    path.write_text(SEVERAL_PROBLEMS, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_rule(path, known_universes=KNOWN_UNIVERSES)
    got = [(p.code, p.line, p.col) for p in info.value.problems]
    assert sorted(got) == sorted([
        ("unknown-universe", 2, 29),
        ("unknown-field", 6, 12),
        ("type-mismatch", 7, 10),
        ("unknown-function", 8, 28),
        ("bad-weight", 11, 48),
        ("not-a-number", 12, 16),
        ("unknown-key", 13, 28),
        ("bad-value", 16, 7),
    ]), "\n".join(p.render() for p in info.value.problems)
    # the rendered error names every problem, each with its own file:line:col
    text = str(info.value)
    for code, line, col in got:
        assert f"{path}:{line}:{col}: error[{code}]" in text


def test_a_valid_rule_loads(tmp_path: Path):
    path = tmp_path / "esg_compute_leaders.toml"
    path.write_text(
        """\
name = "ESG compute leaders"
description = "Compute-equipment names rated AA- or better"
universe = ["esg_compute"]

[filters]
rated = "esg_rating >= 'AA-'"
profitable = "eps_fy1 > 0"
growing = \"\"\"
    eps_growth_fy1 >= 0.10
    and pe_fy1 < 80
\"\"\"
named = "name != '寒武纪'"

[scores]
earnings = { expr = "eps_growth_fy1", weight = 0.5 }
esg = { expr = "esg_score", weight = 0.3 }
value = { expr = "pe_fy1", weight = 0.2, higher_is_better = false, normalize = "zscore" }

[output]
top = 10
""",
        encoding="utf-8",
    )
    screen = load_rule(path, known_universes=KNOWN_UNIVERSES)
    assert isinstance(screen, Screen)
    assert screen.universes == ("esg_compute",)
    assert [f.name for f in screen.filters] == ["rated", "profitable", "growing", "named"]
    assert [s.name for s in screen.scores] == ["earnings", "esg", "value"]
    assert screen.weights == pytest.approx((0.5, 0.3, 0.2))
    assert screen.scores[2].higher_is_better is False and screen.scores[2].normalize == "zscore"
    assert screen.top == 10


def test_windows_line_endings_keep_lines_and_columns(tmp_path: Path):
    # written as bytes here: a case file in git could have its line endings converted
    text = (
        'name = "CRLF"\r\n'                         # 1
        'universe = ["ai_compute"]\r\n'             # 2
        "[filters]\r\n"                              # 3
        'growing = """\r\n'                          # 4
        "    eps_growth_fy1 >= 0.10 and\r\n"         # 5
        "    pe_fy11 < 80\r\n"                        # 6
        '"""\r\n'                                    # 7
        'named = "name == \'寒武纪\' and eps_fy11 > 0"\r\n'  # 8
    )
    path = tmp_path / "crlf.toml"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(InputError) as info:
        load_rule(path, known_universes=KNOWN_UNIVERSES)
    assert [(p.code, p.line, p.col) for p in info.value.problems] == [
        ("unknown-field", 6, 5),
        ("unknown-field", 8, 28),
    ]
    assert info.value.problems[0].source_line == "    pe_fy11 < 80"  # no stray carriage return


def test_a_byte_order_mark_is_not_a_toml_error(tmp_path: Path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + 'name = "BOM"\nuniverse = ["bci"]\n[filters]\nx = "eps_fy11 > 0"\n'.encode())
    with pytest.raises(InputError) as info:
        load_rule(path, known_universes=KNOWN_UNIVERSES)
    assert [(p.code, p.line, p.col) for p in info.value.problems] == [("unknown-field", 4, 6)]


def test_a_file_that_is_not_utf8_is_a_clean_problem(tmp_path: Path):
    path = tmp_path / "gbk.toml"
    path.write_bytes('name = "寒武纪"\nuniverse = ["ai_compute"]\n'.encode("gbk"))
    with pytest.raises(InputError) as info:
        load_rule(path, known_universes=KNOWN_UNIVERSES)
    (problem,) = info.value.problems
    assert problem.code == "encoding"
    assert "UTF-8" in problem.message


def test_a_missing_file_is_a_clean_problem(tmp_path: Path):
    with pytest.raises(InputError) as info:
        load_rule(tmp_path / "nope.toml", known_universes=KNOWN_UNIVERSES)
    assert [p.code for p in info.value.problems] == ["no-file"]
