"""Hostile names through the real CLI (issue 14, items 2 and 3).

Item 2, "our files are ours": a rule's folder is its file stem, except names that would meet the
output folder's own files (`history.sqlite`, `history`, `schedule-status.json`, `index.html`,
`backtests`, `*.lock`) or start with a dot: those are escaped with `@`, so a later run still
works; two rules of one command that would share a folder stop it with exit 2 before anything
is written.

Item 3, safe output: control characters in rule names, filter and score names, pin reasons,
security names, notes, universe names and file paths never reach the terminal or an export raw
(`ESC ] 0 ; ... BEL` would retitle the window, `ESC [ 2 J` clear the screen); they are shown
escaped (`\\x1b`). JSON keeps the data (C0 as `\\u001b`, DEL/C1/bidi as `\\uXXXX` too); Parquet
keeps values as read. Errors show a window of a long source line, not the whole line.

Each case is a row of `CASES`: files written over the tiny project, one command run as a real
process, the exit code, fragments the output must hold, folders and files the output folder must
(not) hold, and the exports to scan for raw control characters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import CONFIG, CONSENSUS, ESG, FX, PRICES, RULE, UNIVERSE, write

AS_OF = "2026-06-30"

#: what must never appear raw: C0 but newline/tab/CR, DEL, C1, bidi controls
RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\u202e"  # retitle, clear screen, C1 CSI, right-to-left override

# TOML escapes in strings and quoted keys; a raw C1 and a raw override in the comment (TOML allows
# both there), so the rule text itself carries them into the exports that show it
EVIL_RULE = """# raw C1 \u009b and a right-to-left override \u202e in a comment
name = "Evil\\u001b]0;pwned\\u0007\\u001b[2J screen\\u009b"
description = "desc \\u001b[31mred\\u001b[0m \\u202e"
universe = ["tiny"]

[filters]
"prof\\u001b[2Jitable" = "eps_fy1 > 0"

[scores]
"gro\\u001b]0;x\\u0007wth" = { expr = "eps_growth_fy1", weight = 0.5 }
value = { expr = "pe_fy1", weight = 0.5, higher_is_better = false }


[[pins]]
symbol = "603002.SH"
action = "include"
reason = "core \\u001b[2J position\\u009b"
"""

EVIL_NAME = "Evil\x1b]0;pwned\x07\x1b[2J screen\x9b"

# security names, English names and notes carrying every kind of control character
HOSTILE_UNIVERSE = (UNIVERSE.replace("甲公司", f"甲{HOSTILE}公司").replace("Beta", "Be\u202eta\x9b31m")
                    .replace("IONQ.US,IonQ,", f"IONQ.US,Ion{HOSTILE}Q,")  # excluded: the JSON's `excluded` list
                    .replace("PRIVATE:x,私营,pure,false,Private X,,test,",
                             f"PRIVATE:x,私营,pure,false,Private X,,test,\"note{HOSTILE}\x7f\""))

# an unknown field at the end of a long expression: the error points at column ~19,000
LONG_RULE = ('name = "Long"\nuniverse = ["tiny"]\n\n[filters]\nlong = "'
             + "eps_fy1 > 0 and " * 1200 + 'eps_fy1_nosuch > 0"\n')

BAD_UNIVERSE_RULE = 'name = "Bad"\nuniverse = ["x\\u001b[2J"]\n\n[filters]\np = "eps_fy1 > 0"\n'


@dataclass(frozen=True)
class Case:
    id: str
    files: dict  # path under the project -> text
    args: tuple  # the command after `screener`
    code: int
    says: tuple = ()  # fragments of stdout + stderr
    dirs: tuple = ()  # folders the output folder must hold
    plain: tuple = ()  # files (not folders) the output folder must hold
    absent: tuple = ()  # paths under the project that must not exist
    scan: tuple = ()  # globs under the project: export files to scan for raw control characters
    max_output: int | None = None  # characters of stdout + stderr at most
    check: object = field(default=None)  # extra check(project, stdout)


def _json_keeps_data(project: Path, stdout: str) -> None:
    payload = json.loads(stdout)
    assert payload["rule_name"] == EVIL_NAME  # the data is kept: only the encoding escapes it
    assert any(r["name"] == f"甲{HOSTILE}公司" for r in payload["rows"])
    assert any(e["name"] == f"Ion{HOSTILE}Q" for e in payload["excluded"])


def _parquet_keeps_data(project: Path, stdout: str) -> None:
    import polars as pl

    names = pl.read_parquet(project / "out" / "evil" / "latest.parquet")["name"].to_list()
    assert f"甲{HOSTILE}公司" in names  # Parquet is data for programs: values as read


CASES = [
    Case("history.sqlite.toml beside an ordinary rule",
         {"rules/history.sqlite.toml": RULE},
         ("run", "rules/history.sqlite.toml", "small", "--as-of", AS_OF), 0,
         dirs=("@history.sqlite", "small"), plain=("history.sqlite", "index.html")),
    Case("the output folder's other names",
         {f"rules/{n}.toml": RULE for n in ("schedule-status.json", "index.html", "x.lock", "history", "backtests",
                                            "NUL")},
         ("run", "rules/schedule-status.json.toml", "rules/index.html.toml", "rules/x.lock.toml",
          "rules/history.toml", "rules/backtests.toml", "rules/NUL.toml", "small", "--as-of", AS_OF), 0,
         dirs=("@schedule-status.json", "@index.html", "@x.lock", "@history", "@backtests", "@NUL", "small"),
         plain=("history.sqlite", "index.html"), absent=("out/schedule-status.json",)),
    Case("dot names get folders of their own",
         {"rules/...toml": RULE, "rules/..toml": RULE, "rules/.hidden.toml": RULE},
         ("run", "rules/...toml", "rules/..toml", "rules/.hidden.toml", "--as-of", AS_OF), 0,
         dirs=("@..@", "@.@", "@.hidden"), absent=("out/rule", "out/hidden")),
    Case("one stem in two folders",
         {"other/small.toml": RULE},
         ("run", "rules/small.toml", "other/small.toml", "--as-of", AS_OF), 2,
         says=("rules/small.toml and other/small.toml", "error[same-folder]"), absent=("out",)),
    Case("names that clean to one folder",
         {"rules/a b.toml": RULE, "rules/a_b.toml": RULE},
         ("run", "rules/a b.toml", "rules/a_b.toml", "--as-of", AS_OF), 2,
         says=("rules/a b.toml and rules/a_b.toml", "`a_b`"), absent=("out",)),
    Case("control characters through run and every export",
         {"rules/evil.toml": EVIL_RULE, "universes/tiny.csv": HOSTILE_UNIVERSE},
         ("run", "evil", "--as-of", AS_OF, "--format", "csv,xlsx,html,json,md,parquet"), 0,
         says=("Evil\\x1b]0;pwned\\x07\\x1b[2J screen\\x9b", "甲\\x1b]0;PWNED\\x07", "prof\\x1b[2Jitable",
               "core \\x1b[2J position\\x9b"),
         dirs=("evil",), scan=("out/evil/latest.*", "out/evil/*/evil.*", "out/index.html"),
         check=_parquet_keeps_data),
    Case("run --json keeps the data, escaped",
         {"rules/evil.toml": EVIL_RULE, "universes/tiny.csv": HOSTILE_UNIVERSE},
         ("run", "evil", "--as-of", AS_OF, "--json", "--no-export"), 0,
         says=("\\u001b]0;pwned\\u0007", "\\u009b", "\\u202e"), absent=("out",), check=_json_keeps_data),
    Case("universe members",
         {"universes/tiny.csv": HOSTILE_UNIVERSE},
         ("universes", "tiny"), 0, says=("Be\\u202eta\\x9b31m", "甲\\x1b]0;PWNED\\x07\\x1b[2J")),
    Case("explain",
         {"rules/evil.toml": EVIL_RULE, "universes/tiny.csv": HOSTILE_UNIVERSE},
         ("explain", "evil", "603001.SH", "--as-of", AS_OF), 0,
         says=("甲\\x1b]0;PWNED\\x07", "prof\\x1b[2Jitable")),
    Case("a path and a universe name in an error",
         {"rules/\x1b[2Jbad.toml": BAD_UNIVERSE_RULE},
         ("check", "rules/\x1b[2Jbad.toml"), 2, says=("rules/\\x1b[2Jbad.toml", "x\\x1b[2J")),
    Case("an error in a long line shows a window of it",
         {"rules/long.toml": LONG_RULE},
         ("check", "rules/long.toml"), 2, says=("eps_fy1_nosuch", "…", "^"), max_output=2500),
    Case("backtest files",
         {"rules/evil.toml": EVIL_RULE, "universes/tiny.csv": HOSTILE_UNIVERSE},
         ("backtest", "evil", "--dates", "2026-06-30,2026-07-31", "--format", "html,csv,json", "--out", "bt"), 0,
         says=("Evil\\x1b]0;pwned\\x07",), scan=("bt/*",)),
]


def _project(root: Path, files: dict) -> Path:
    write(root / "config.toml", CONFIG)
    write(root / "universes" / "tiny.csv", UNIVERSE)
    for name, text in (("consensus", CONSENSUS), ("prices", PRICES), ("esg", ESG), ("fx", FX)):
        write(root / "data" / f"{name}.csv", text)
    write(root / "rules" / "small.toml", RULE)
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")  # as given: no dedent of the long lines
    return root


def _raw(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in RAW.finditer(text)})


def _export_text(path: Path) -> str:
    """What a file shows a reader: an xlsx's XML parts (xlsxwriter would write a raw C0 as
    `_x001B_`, which Excel turns back into the character, so that counts as raw too)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
        return re.sub(r"_x00[01][0-9A-Fa-f]_", "\x1b", xml)
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_through_the_cli(case: Case, tmp_path):
    project = _project(tmp_path, case.files)
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env.pop("COLUMNS", None)
    p = subprocess.run([sys.executable, "-m", "screener", *case.args], cwd=project, capture_output=True,
                       text=True, encoding="utf-8", env=env, timeout=120)
    output = p.stdout + p.stderr
    assert p.returncode == case.code, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert not _raw(p.stdout), f"raw control characters on stdout: {_raw(p.stdout)}"
    assert not _raw(p.stderr), f"raw control characters on stderr: {_raw(p.stderr)}"
    for fragment in case.says:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    if case.max_output is not None:
        assert len(output) <= case.max_output, f"{len(output)} characters of output"
    out = project / "out"
    for name in case.dirs:
        assert (out / name).is_dir(), sorted(x.name for x in out.iterdir())
    for name in case.plain:
        assert (out / name).is_file(), name
    for path in case.absent:
        assert not (project / path).exists(), path
    scanned = [f for pattern in case.scan for f in sorted(project.glob(pattern))
               if f.is_file() and f.suffix != ".parquet" and not f.name.startswith(".")]
    assert scanned or not case.scan, "no export to scan"
    for f in scanned:
        found = _raw(_export_text(f))
        assert not found, f"{f.relative_to(project)}: raw {found}"
    if case.check is not None:
        case.check(project, p.stdout)


def test_a_run_after_a_colliding_name_still_works(tmp_path):
    """The issue's reproduction: `history.sqlite.toml` run alone first, then an ordinary rule in
    the same output folder (the old code failed every later run with "internal error")."""
    project = _project(tmp_path, {"rules/history.sqlite.toml": RULE, "rules/schedule-status.json.toml": RULE})
    from click.testing import CliRunner

    from screener.cli import main

    old = Path.cwd()
    os.chdir(project)
    try:
        first = CliRunner().invoke(main, ["run", "rules/history.sqlite.toml", "rules/schedule-status.json.toml", "--as-of",
                                          AS_OF])
        second = CliRunner().invoke(main, ["run", "small", "--as-of", AS_OF])
    finally:
        os.chdir(old)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert (project / "out" / "history.sqlite").is_file()
    assert not (project / "out" / "schedule-status.json").exists()


# -- the pieces, in process --------------------------------------------------------------------


@pytest.mark.parametrize("stem, folder", [
    ("esg_compute_leaders", "esg_compute_leaders"),  # ordinary names keep their folders
    ("quantum-2026.v2", "quantum-2026.v2"),
    ("a b", "a_b"),
    ("中文规则", "中文规则"),  # letters of any script are kept: two Chinese-named rules never share "_"
    ("规则 二", "规则_二"),
    ("龍" * 120, "龍" * 66),  # cut to 200 UTF-8 bytes
    ("history.sqlite", "@history.sqlite"),
    ("history.sqlite-wal", "@history.sqlite-wal"),
    ("History", "@History"),
    ("history", "@history"),
    ("history.sqlite.d", "@history.sqlite.d"),
    ("schedule-status.json", "@schedule-status.json"),
    ("index.html", "@index.html"),
    (".screener.lock", "@.screener.lock"),
    ("jobs.lock", "@jobs.lock"),
    ("backtests", "@backtests"),
    ("sweeps", "@sweeps"),
    ("con", "@con"),
    ("nul.txt", "@nul.txt"),
    (".", "@.@"),
    ("..", "@..@"),
    (".hidden", "@.hidden"),
    ("", "@"),
    ("@history.sqlite", "_history.sqlite"),  # `@` never survives in an ordinary name
    ("histories", "histories"),
])
def test_folder_names(stem, folder):
    from screener.outputs.safe import safe_component

    assert safe_component(stem) == folder


def test_folder_names_never_meet():
    """Escaped names and ordinary ones never coincide, over a corpus of awkward stems."""
    from screener.outputs.safe import reserved, safe_component

    stems = ["history", "history.sqlite", "_history.sqlite", "@history.sqlite", ".", "..", "...", "_", "rule",
             ".rule", "index.html", "index_html", "x.lock", "x_lock", ".hidden", "hidden", "@", "@@", "a.", "a..",
             "schedule-status.json", "schedule-status_json", "nul", "nul_"]
    folders = {}
    for s in stems:
        f = safe_component(s)
        assert not reserved(f) or f.startswith("@"), (s, f)
        if f in folders:  # only names that differ where characters are replaced may share
            assert folders[f].replace("@", "_") == s.replace("@", "_") or "@" in folders[f] + s, (folders[f], s)
        folders.setdefault(f, s)
    assert safe_component("...") != safe_component("..") != safe_component(".")


def test_printable_and_json_safe():
    from screener.outputs.safe import json_safe, printable

    assert printable("plain 中文") == "plain 中文"
    assert printable(f"a{HOSTILE}b") == "a\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\u202eb"
    assert printable("two\nlines\tand\r\nCRLF\rCR") == "two\nlines\tand\r\nCRLF\\x0dCR"
    assert printable("two\nlines\t", one_line=True) == "two\\x0alines\\x09"
    text = json.dumps({"n": f"a{HOSTILE}\x7f"}, ensure_ascii=False)
    assert not _raw(json_safe(text))
    assert json.loads(json_safe(text)) == json.loads(text)


def test_terminal_text_keeps_its_styles_when_escaped():
    from rich.text import Text

    from screener.outputs.terminal import clean

    t = Text("a\x1b[2Jb") + Text("RED", style="red")
    shown = clean(t)
    assert shown.plain == "a\\x1b[2JbRED"
    assert [(s.start, s.end, str(s.style)) for s in shown.spans] == [(9, 12, "red")]
    assert clean("[link=http://x]y[/link]").plain == "[link=http://x]y[/link]"  # never markup


def test_an_error_shows_a_window_of_a_long_line():
    from screener.problems import Problem

    line = "x" * 500_000 + "\x1b[2J" + "y" * 500_000
    text = Problem("bad", "nope", "r.toml", 1, 500_001, source_line=line, width=4).render()
    assert len(text) < 600 and "\x1b" not in text
    source, caret = text.splitlines()[1:3]
    assert source.strip().startswith("1 | …") and source.endswith("…")
    at = caret.index("^")
    assert source[at:at + 4] == "\\x1b" and caret.count("^") == len("\\x1b[2J")
    long = Problem("bad", "m" * 10_000, "r.toml").render()
    assert len(long) < 2200 and "more characters" in long


def test_changes_with_hostile_names_in_diff_and_exports(tmp_path, cli):
    """What left and why (a security name, a filter name in the reason) in `history --diff` and in
    the changes sections of the exports: escaped like everything else."""
    project = _project(tmp_path, {"rules/evil.toml": EVIL_RULE, "universes/tiny.csv": HOSTILE_UNIVERSE})
    assert cli(project, "run", "evil", "--as-of", AS_OF).exit_code == 0
    rule = project / "rules" / "evil.toml"
    rule.write_text(EVIL_RULE.replace("eps_fy1 > 0", "eps_fy1 > 1.6"), encoding="utf-8")  # 603001.SH leaves
    r = cli(project, "run", "evil", "--as-of", AS_OF, "--format", "csv,xlsx,html,md,json")
    assert r.exit_code == 0 and "1 left" in r.output, r.output
    diff = cli(project, "history", "evil", "--diff")
    assert diff.exit_code == 0 and "甲\\x1b]0;PWNED\\x07" in diff.output and "failed prof\\x1b[2Jitable" in diff.output
    assert not _raw(diff.output), _raw(diff.output)
    for f in sorted((project / "out" / "evil").glob("latest.*")):
        found = _raw(_export_text(f)) if f.suffix != ".parquet" else []
        assert not found, f"{f.name}: raw {found}"


def test_daemon_log_lines_and_the_rejects_report_show_control_characters_escaped():
    """Rule paths and errors reach the daemon's log (text and JSON lines); vendor values reach the
    rejects report. Neither may carry a raw escape sequence."""
    import logging

    from screener.data.imports.report import Rejection, rejects_csv
    from screener.schedule.daemon import JsonFormatter, TextFormatter

    record = logging.LogRecord("screener", logging.ERROR, __file__, 1, "job %s failed: %s", ("evil\x1b[2J",
                                                                                            "\x1b]0;pwned\x07"), None)
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "\x1b" not in line and "\x07" not in line and "2J" in line
    data = rejects_csv([Rejection(row=2, column="EPS\x1b[31m", value="=1+1\x9b", reason="not a number\u202e")])
    text = data.decode("utf-8-sig")
    assert not any(c in text for c in ("\x1b", "\x9b", "\u202e")) and "\\x1b[31m" in text
