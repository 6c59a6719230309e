"""Hostile input at any size (issue 14): a corpus of bad files, each run through the real CLI in a
child process, with its expected exit code and message fragment; never a traceback.

The large cases are generated at test time (a header of a million names, a 2 GB sparse file) and
run under a memory cap set in the child (RLIMIT_AS: polars and jemalloc reserve much virtual memory
they never touch, so the cap is generous next to the well-formed run's peak, and far below what the
old code took: 24 GB for `data check` on the million-column header). Each child's peak RSS
(`os.wait4`) is compared with a well-formed file of similar size.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import write

AS_OF = "2026-06-30"
MEMORY_CAP = 3 << 30  # bytes of address space for the large cases (a clean run of the sample needs ~1.5 GB)


@dataclass
class Run:
    code: int
    out: str
    seconds: float
    peak_kb: int  # the child's peak RSS


def screener(cwd: Path, *args, cap: int | None = None, timeout: float = 60) -> Run:
    """`python -m screener ARGS` in `cwd`; with `cap`, under RLIMIT_AS = cap (set in the child)."""
    def limit():
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, PYTHONIOENCODING="utf-8", POLARS_MAX_THREADS="2", COLUMNS="200")
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "screener", *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, preexec_fn=limit)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                pytest.fail(f"screener {' '.join(map(str, args))} did not finish within {timeout} s")
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    return Run(p.returncode, text, seconds, usage.ru_maxrss)


# -- makers of hostile things ---------------------------------------------------------------------


def text(content: str) -> Callable[[Path], None]:
    return lambda p: write(p, content)


def fifo(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.unlink(missing_ok=True)
    os.mkfifo(p)


def folder(p: Path) -> None:
    p.unlink(missing_ok=True)
    p.mkdir(parents=True)


def symlink(target: str) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.unlink(missing_ok=True)
        os.symlink(target, p)
    return make


def loop(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.unlink(missing_ok=True)
    os.symlink(p.name + ".other", p)
    os.symlink(p.name, p.with_name(p.name + ".other"))


def gone(p: Path) -> None:
    p.unlink()


def edit(old: str, new: str) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        content = p.read_text(encoding="utf-8")
        assert old in content, (p, old)
        p.write_text(content.replace(old, new), encoding="utf-8")
    return make


def append(more: str) -> Callable[[Path], None]:
    return lambda p: p.write_text(p.read_text(encoding="utf-8") + more, encoding="utf-8")


def rule(filters: str, extra: str = "") -> Callable[[Path], None]:
    return text(f'name = "hostile"\nuniverse = ["tiny"]\n{extra}\n[filters]\n{filters}\n')


def padded_rule(p: Path) -> None:
    rule('ok = "eps_fy1 > 0"')(p)
    with open(p, "a", encoding="utf-8") as f:
        f.write(("# " + "x" * 1000 + "\n") * 1100)  # 1.1 MB of comments


def many_filters(n: int) -> Callable[[Path], None]:
    return rule("\n".join(f'f{i} = "eps_fy1 > {i}"' for i in range(n)))


def long_cell(p: Path) -> None:
    content = p.read_text(encoding="utf-8").splitlines()
    cells = content[1].split(",")
    cells[-1] = "x" * 70_000  # the note column: 70 KB in one cell
    content[1] = ",".join(cells)
    p.write_text("\n".join(content) + "\n", encoding="utf-8")


def latin1_named_rule(rules: Path) -> None:
    """A rule file whose name is the byte 0xff: not UTF-8 (Python reads it as a lone surrogate)."""
    with open(os.fsencode(rules) + b"/\xff.toml", "w", encoding="utf-8") as f:
        f.write('name = "x"\nuniverse = ["tiny"]\n[filters]\nf = "eps_fy1 > 0"\n')


JOB = '\n[[jobs]]\nname = "nightly"\nrules = ["rules/small.toml"]\ncron = "0 1 * * *"\n'


@dataclass
class Case:
    """Files to make (path in the project -> maker), the command, its exit code, and the fragments
    its output must hold (each a file's own problem where several hostile files share one run)."""

    name: str
    files: dict[str, Callable[[Path], None]]
    args: tuple
    code: int
    fragments: tuple[str, ...]
    absent: tuple[str, ...] = field(default=())


NOT_UTF8 = os.fsencode("rules/") + b"\xff.toml"
RUN = ("run", "small", "--as-of", AS_OF, "--no-export")
EMPTY = {f"data/{n}.csv": gone for n in ("consensus", "prices", "esg", "fx")}
SPECIAL_SNAPSHOT = {"data/prices.csv": fifo, "data/esg.csv": folder, "data/consensus.csv": symlink("/dev/zero"),
                    "data/fx.csv": symlink("nowhere.csv"), "data/snapshot.toml": fifo}
SPECIAL_SNAPSHOT_SAID = ("data/prices.csv: error[not-a-file]: the snapshot file is a FIFO",
                         "data/esg.csv: error[not-a-file]: the snapshot file is a folder",
                         "data/consensus.csv: error[not-a-file]: the snapshot file is a character device",
                         "data/fx.csv: error[not-a-file]: the snapshot file is a dangling symlink",
                         "data/snapshot.toml: error[not-a-file]")
BAD_JOBS = (JOB.replace('"0 1 * * *"', "5") + JOB.replace("nightly", "weekly").replace("small.toml", "nope.toml")
            + JOB.replace("nightly", "monthly").replace('cron = "0 1 * * *"\n', ""))
BAD_JOBS_SAID = ("job nightly: cron must be a string in quotes, got 5", "job weekly: rule file rules/nope.toml not found",
                 "job monthly: `cron` is missing")

CASES = [
    # rule files, all checked by one `screener check` (each file's problem is reported on its own)
    Case("hostile rule files", {
        # item 1: sizes, checked before anything large is built; special files, named and never opened
        "rules/big.toml": padded_rule,
        "rules/long.toml": rule('f = "' + " or ".join(["eps_fy1 > 0"] * 1800) + '"'),
        "rules/many.toml": many_filters(5000),
        "rules/pipe.toml": fifo,
        "rules/dir.toml": folder,
        "rules/loop.toml": loop,
        "rules/gone.toml": symlink("nowhere.toml"),
        # item 5: what `run` cannot encode fails `check`
        "rules/sur.toml": rule("f = 'name == \"\\ud800\"'"),
        "rules": latin1_named_rule,
        # item 6: full-width and typographic look-alikes; absurd dates
        "rules/fw1.toml": rule('f = "ｅｐｓ_fy1 > 0"'),
        "rules/fw2.toml": rule('f = "max(eps_fy1，1) > 0"'),
        "rules/fw3.toml": rule('f = "（eps_fy1 > 0)"'),
        "rules/fw4.toml": rule('f = "name == ‘x’"'),
        "rules/old.toml": rule('f = "eps_fy1 > 0"', '[[expect]]\nas_of = 0001-01-01\nsymbol = "603001.SH"\n'
                                                    'in_watchlist = true\n'),
    }, ("check", "rules/big.toml", "rules/long.toml", "rules/many.toml", "rules/pipe.toml", "/dev/zero", "rules/dir.toml",
        "rules/loop.toml", "rules/gone.toml", "rules/sur.toml", NOT_UTF8, "rules/fw1.toml", "rules/fw2.toml",
        "rules/fw3.toml", "rules/fw4.toml", "rules/old.toml"), 2, (
        "rules/big.toml: error[limit]: the rule file is 1.1 MB, more than the limit of 1 MB",
        "[limits] rule_file_bytes",
        "rules/long.toml:5:6: error[too-long]", "[limits] expression_chars",
        "rules/many.toml:4:1: error[limit]: the rule has 5,000 filters and scores together", "[limits] filters_and_scores",
        "rules/pipe.toml: error[not-a-file]: the rule file is a FIFO",
        "/dev/zero: error[not-a-file]: the rule file is a character device",
        "rules/dir.toml: error[not-a-file]: the rule file is a folder",
        "rules/loop.toml: error[not-a-file]: the rule file is a symlink loop",
        "rules/gone.toml: error[not-a-file]: the rule file is a dangling symlink",
        "rules/sur.toml:5:14: error[bad-text]: the text holds U+D800",
        "rules/\\udcff.toml: error[encoding]: the rule file's name holds U+DCFF, which is not UTF-8 text",
        "rules/fw1.toml:5:6: error[full-width]", "did you mean `eps_fy1 > 0`?",
        "rules/fw2.toml:5:17: error[full-width]", "did you mean `max(eps_fy1,1) > 0`?",
        "rules/fw3.toml:5:6: error[full-width]", "did you mean `(eps_fy1 > 0)`?",
        "rules/fw4.toml:5:14: error[full-width]", "did you mean `name == 'x'`?",
        "rules/old.toml:4:9: error[bad-date]: `as_of` of the expectation on 603001.SH is 0001-01-01, outside the dates",
    )),
    Case("a limit that is not a number", {"config.toml": append("\n[limits]\ncell_bytes = \"big\"\n")}, ("check",), 2,
         ("limits.cell_bytes must be a whole number",)),
    Case("config file is a FIFO", {"pipe.toml": fifo}, ("--config", "pipe.toml", "check"), 2,
         ("pipe.toml: error[not-a-file]: the config file is a FIFO",)),
    Case("a lone surrogate: run", {"rules/sur.toml": rule("f = \"name == '\\\\ud800'\"")},
         ("run", "rules/sur.toml", "--as-of", AS_OF, "--no-export"), 2, ("U+D800",)),
    Case("--as-of year 1", {}, ("run", "small", "--as-of", "0001-01-01", "--no-export"), 2, ("outside the dates",)),
    # data: sizes, special files, empty folders, absurd dates, the label's types
    Case("a cell of 70 KB", {"universes/tiny.csv": long_cell}, ("data", "check"), 2,
         ("universes/tiny.csv:2:", "[limits] cell_bytes")),
    Case("a lowered header limit", {"config.toml": append("\n[limits]\nheader_columns = 5\n")}, RUN, 2,
         ("data/consensus.csv:1:1: error[limit]: the header has 9 columns, more than the limit of 5",
          "[limits] header_columns")),
    Case("special snapshot files: data check", SPECIAL_SNAPSHOT, ("data", "check"), 2, SPECIAL_SNAPSHOT_SAID),
    Case("special snapshot files: run", SPECIAL_SNAPSHOT, RUN, 2, SPECIAL_SNAPSHOT_SAID[:4]),
    Case("universe file is a FIFO", {"universes/tiny.csv": fifo}, RUN, 2,
         ("universes/tiny.csv: error[not-a-file]: the universe file is a FIFO",)),
    Case("empty snapshot folder: run", EMPTY, RUN[:-1], 2, ("data: error[empty-snapshot]: the data folder data holds none",)),
    Case("empty snapshot folder: backtest", EMPTY, ("backtest", "small", "--from", "2026-01-01", "--to", AS_OF), 2,
         ("holds none of the snapshot files",)),
    Case("some snapshot files missing: a warning", {"data/esg.csv": gone}, RUN, 0, ("warning: no esg file",)),
    Case("a row as of 0000-01-01, notice = 5: data check", {"data/prices.csv": edit("2026-06-30", "0000-01-01"),
                                                            "data/snapshot.toml": text("sample = true\nnotice = 5\n")},
         ("data", "check"), 2, ("'0000-01-01' is not a date (YYYY-MM-DD) between 1900-01-01 and 2199-12-31",
                                "data/snapshot.toml: error[bad-value]: `notice` must be text in quotes, got 5")),
    Case("a row as of 0000-01-01: run", {"data/prices.csv": edit("2026-06-30", "0000-01-01")}, RUN, 2,
         ("'0000-01-01' is not a date",)),
    # config messages say what the file says
    Case("no jobs", {}, ("schedule", "--list"), 0, ("no [[jobs]] in config.toml",), ("No []", "no []")),
    Case("bad jobs: --list", {"config.toml": append(BAD_JOBS)}, ("schedule", "--list"), 2, BAD_JOBS_SAID,
         ("None is missing",)),
    Case("bad jobs: data check", {"config.toml": append(BAD_JOBS)}, ("data", "check"), 2, BAD_JOBS_SAID),
    Case("grace_time = nan, raters = []", {"config.toml": lambda p: (
        edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\ngrace_time = nan')(p),
        edit('raters = ["绿发信评"]', "raters = []")(p))}, ("check",), 2,
         ("schedule.grace_time must be seconds >= 0, got nan", "esg.raters must be a non-empty list of rater names")),
    Case("--run-now of a job whose rule is bad", {"config.toml": append(JOB),
                                                  "rules/small.toml": rule("f = 'name == \"\\ud800\"'")},
         ("schedule", "--run-now", "nightly"), 2, ("error[bad-text]",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(tiny, case: Case):
    for rel, make in case.files.items():
        make(tiny / rel)
    run = screener(tiny, *case.args, timeout=30)
    assert run.code == case.code, run.out
    for fragment in case.fragments:
        assert fragment in run.out, (fragment, run.out)
    assert "Traceback" not in run.out and "internal error" not in run.out, run.out
    for text_ in case.absent:
        assert text_ not in run.out, run.out
    if case.name.startswith("empty snapshot folder: run"):
        assert not (tiny / "out" / "history.sqlite").exists(), "an empty snapshot must not record history"
    assert run.seconds < 10, run.seconds  # a FIFO, /dev/zero or 5,000 filters are refused promptly


# -- the large ones, under a memory cap, against a well-formed baseline -------------------------------


def _million_column_header(p: Path) -> None:
    names = ["symbol", "fiscal_year", "eps", "actual", "as_of"] + [f"c{i}" for i in range(1_000_000)]
    p.write_text(",".join(names) + "\n", encoding="utf-8")  # about 8 MB


def _well_formed_consensus(p: Path, target_bytes: int = 8_000_000) -> None:
    """A clean consensus.csv of about `target_bytes` (the baseline of the million-column file)."""
    lines = ["symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue"]
    size, i = 0, 0
    while size < target_bytes:
        code = 600000 + i % 20000
        year = 2015 + (i // 20000) % 10
        day = 1 + (i // 200000) % 28
        line = f"{code}.SH,{year},{1 + i % 97 / 10:.2f},false,2026-05-{day:02d},CNY,{i % 30},{i * 1000},{i * 9000}"
        lines.append(line)
        size += len(line) + 1
        i += 1
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_million_column_header_and_a_2_gb_line_are_refused_in_bounded_memory(tiny):
    baseline = tiny / "baseline"
    baseline.mkdir()
    _well_formed_consensus(baseline / "consensus.csv")
    base = screener(tiny, "data", "check", "baseline", cap=MEMORY_CAP)
    assert base.code == 0, base.out

    wide = tiny / "data" / "consensus.csv"
    _million_column_header(wide)
    checked = screener(tiny, "data", "check", cap=MEMORY_CAP)
    ran = screener(tiny, "run", "small", "--as-of", AS_OF, "--no-export", cap=MEMORY_CAP)
    for r in (checked, ran):  # run and data check agree: exit 2, naming the file and the limit
        assert r.code == 2, r.out
        assert "data/consensus.csv:1:1: error[limit]" in r.out and "[limits] header_columns" in r.out, r.out
        assert r.peak_kb <= 2 * base.peak_kb, (r.peak_kb, base.peak_kb)
        assert r.seconds < 10, r.seconds

    _well_formed_consensus(wide, 10_000)
    sparse = tiny / "data" / "prices.csv"
    with open(sparse, "wb") as f:  # 2 GB of zero bytes, no newline: one line longer than line_bytes
        f.truncate(2 << 30)
    checked = screener(tiny, "data", "check", cap=MEMORY_CAP)
    ran = screener(tiny, "run", "small", "--as-of", AS_OF, "--no-export", cap=MEMORY_CAP)
    for r in (checked, ran):
        assert r.code == 2, r.out
        assert "data/prices.csv:1:1: error[limit]" in r.out and "[limits] line_bytes" in r.out, r.out
        assert r.peak_kb <= 2 * base.peak_kb, (r.peak_kb, base.peak_kb)
        assert r.seconds < 10, r.seconds


def test_a_vendor_export_with_a_huge_line_is_refused_before_it_is_read(tmp_path):
    """`data import` checks a text export's shape, streamed, before reading the whole file."""
    import subprocess
    import sys

    (tmp_path / "config.toml").write_text('[paths]\nrules = "rules"\nuniverses = "universes"\ndata = "data"\n'
                                          'out = "out"\n[limits]\nline_bytes = 100000\n'
                                          '[import.generic.consensus]\nsymbol = "代码"\nfiscal_year = "年度"\n'
                                          'eps = "EPS"\n', encoding="utf-8")
    with open(tmp_path / "vendor.csv", "wb") as fh:
        fh.write("代码,年度,EPS\n".encode())
        fh.write(b"600000.SH,2026," + b"1" * 200_000 + b"\n")
    r = subprocess.run([sys.executable, "-m", "screener", "data", "import", "vendor.csv", "--source", "generic",
                        "--kind", "consensus", "--as-of", "2026-11-26"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "vendor.csv:2:1" in r.stderr and "line_bytes" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "data").exists()
