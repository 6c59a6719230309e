"""pandera is imported without pandas in a fresh CLI process, and nothing breaks because of it.

Each case runs in a fresh interpreter: the trick only applies before anything imports pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .conftest import REPO


def python(code: str) -> list[str]:
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_checks_run_without_importing_pandas_and_pandas_still_imports_afterwards():
    out = python("""
        import sys
        import polars as pl
        from screener.data import schemas
        good = pl.DataFrame({"symbol": ["603019.SH"], "close": [52.1], "currency": ["CNY"], "as_of": ["2026-11-20"]})
        bad = pl.DataFrame({"symbol": ["603019"], "close": ["x"], "currency": ["CNY"], "as_of": ["2026-11-20"]})
        print(schemas.check_typed("prices", good), "pandas" in sys.modules, "numpy" in sys.modules)
        print(len(schemas.validate("prices", bad, "prices.csv")), "pandas" in sys.modules)
        import pandas
        print(pandas.DataFrame({"a": [1]}).shape[0], good["close"].to_numpy().sum())
    """)
    assert out == ["True", "False", "False", "2", "False", "1", "52.1"]


def test_if_pandera_needs_pandas_after_all_it_is_imported_the_ordinary_way():
    out = python("""
        import sys
        from screener.data.pandera_import import with_pandera
        print(with_pandera(lambda pa: __import__("pandas").__name__), "pandas" in sys.modules)
        print(with_pandera(lambda pa: pa.Column.__name__))
    """)
    assert out == ["pandas", "True", "Column"]


def test_a_worker_thread_imports_pandera_the_ordinary_way():
    out = python("""
        import sys, threading
        from screener.data.pandera_import import with_pandera
        seen = []
        t = threading.Thread(target=lambda: seen.append(with_pandera(lambda pa: "pandas" in sys.modules)))
        t.start(); t.join()
        print(seen[0])
    """)
    assert out == ["True"]
