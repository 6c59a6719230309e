"""Shared fixtures: a private cache per test session, tiny projects written by the test, the
repository's own sample project copied to a temporary folder, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Checked-table cache in a temp folder (subprocesses inherit it through the environment)."""
    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get("SCREENER_CACHE_DIR")
    os.environ["SCREENER_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SCREENER_CACHE_DIR", None)
    else:
        os.environ["SCREENER_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _no_inherited_terminal_size(monkeypatch):
    """Terminal output fits COLUMNS when it is set; a test that wants a width sets it itself, so
    one inherited from the runner (pytest-xdist workers get COLUMNS=80) never changes a result."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


CONFIG = """
[paths]
rules = "rules"
universes = "universes"
data = "data"
out = "out"

[esg]
raters = ["绿发信评"]

[schedule]
timezone = "Asia/Shanghai"
"""

# A small, hand-checked world. As of 2026-06-30:
#   603001.SH  fy0 2025 = 1.0 (reported 2026-04-30), fy1 2026 = 1.5 (newest <= D), fy2 2027 = 1.8,
#              close 30 CNY -> pe_fy1 20, growth 0.5, peg 0.4; rev_3m vs 1.2 (as of 2026-03-01) = 0.25
#              a 2026-12-31 row (eps 9.9) is in the future and must never count
#   603002.SH  fy0 0.8, fy1 1.0, fy2 1.1; close 25 -> pe 25, growth 0.25
#   0001.HK    reports in CNY: fy0 1.6, fy1 2.0 CNY, close 44 HKD, 1 CNY = 1.1 HKD -> pe 20
#   IONQ.US    losses: fy0 -0.5, fy1 -0.2 -> growth, pe, peg null
#   PRIVATE:x  unlisted
UNIVERSE = """
symbol,name,exposure,listed,name_en,exchange,source,note
603001.SH,甲公司,core,true,Alpha,SSE,test,
603002.SH,乙公司,pure,true,Beta,SSE,test,
0001.HK,丙公司,partial,true,Gamma,HKEX,test,
IONQ.US,IonQ,pure,true,IonQ,NYSE,test,
PRIVATE:x,私营,pure,false,Private X,,test,
"""

CONSENSUS = """
symbol,fiscal_year,eps,actual,as_of,currency,analysts,net_profit,revenue
603001.SH,2025,0.9,false,2026-03-01,CNY,10,,
603001.SH,2026,1.2,false,2026-03-01,CNY,10,,
603001.SH,2025,1.0,true,2026-04-30,CNY,10,,
603001.SH,2026,1.5,false,2026-05-31,CNY,12,,
603001.SH,2027,1.8,false,2026-05-31,CNY,12,,
603001.SH,2026,9.9,false,2026-12-31,CNY,12,,
603002.SH,2025,0.8,true,2026-04-30,CNY,5,,
603002.SH,2026,1.0,false,2026-05-31,CNY,5,,
603002.SH,2027,1.1,false,2026-05-31,CNY,5,,
0001.HK,2025,1.6,true,2026-04-30,CNY,8,,
0001.HK,2026,2.0,false,2026-05-31,CNY,8,,
0001.HK,2027,2.4,false,2026-05-31,CNY,8,,
IONQ.US,2025,-0.5,true,2026-04-30,USD,9,,
IONQ.US,2026,-0.2,false,2026-05-31,USD,9,,
"""

PRICES = """
symbol,close,currency,as_of,market_cap
603001.SH,30,CNY,2026-06-30,3000000000
603002.SH,25,CNY,2026-06-30,2000000000
0001.HK,44,HKD,2026-06-30,5000000000
IONQ.US,40,USD,2026-06-30,9000000000
603001.SH,99,CNY,2026-07-31,9900000000
"""

ESG = """
symbol,rater,rating,as_of
603001.SH,绿发信评,AA-pi,2026-04-21
603001.SH,MSCI,AAA,2026-04-21
603002.SH,华证,A,2026-04-21
"""

FX = """
base,quote,rate,as_of
CNY,HKD,1.1,2026-06-01
CNY,HKD,1.3,2026-07-15
"""

RULE = """
name = "Small test screen"
universe = ["tiny"]

[filters]
profitable = "eps_fy1 > 0"

[scores]
growth = { expr = "eps_growth_fy1", weight = 0.5 }
value = { expr = "pe_fy1", weight = 0.5, higher_is_better = false }
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A project written by the test: config, one universe, a snapshot, one rule."""
    write(tmp_path / "config.toml", CONFIG)
    write(tmp_path / "universes" / "tiny.csv", UNIVERSE)
    write(tmp_path / "data" / "consensus.csv", CONSENSUS)
    write(tmp_path / "data" / "prices.csv", PRICES)
    write(tmp_path / "data" / "esg.csv", ESG)
    write(tmp_path / "data" / "fx.csv", FX)
    write(tmp_path / "rules" / "small.toml", RULE)
    return tmp_path


@pytest.fixture
def sample(tmp_path) -> Path:
    """The repository's own project (config, rules, universes, sample data) in a temp folder."""
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data" / "sample")
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    return tmp_path


@pytest.fixture
def cli(monkeypatch):
    """Run the real CLI in-process through click's runner, from a given folder."""
    from click.testing import CliRunner

    from screener.cli import main

    def invoke(cwd: Path, *args: str):
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke
