"""README.md's example outputs are what the commands print (scripts/readme_examples.py), and the
README's first command prints no warning."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "scripts" / "readme_examples.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["readme_examples"] = mod   # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_readme_has_marked_examples():
    mod = _script()
    lines = (ROOT / "README.md").read_text(encoding="utf-8").split("\n")
    commands = [" ; ".join(ex.commands) for ex in mod.find_examples(lines)]
    assert any(c.startswith("screener run rules/esg_compute_leaders.toml --as-of") for c in commands)
    assert any(c.startswith("screener explain") for c in commands)
    assert any(c.startswith("screener backtest") for c in commands)
    assert "screener check" in commands
    assert len(commands) >= 5


def test_readme_examples_match_the_commands():
    d = _script().diff()
    assert not d, ("README example outputs drifted; run `python scripts/readme_examples.py` "
                   "and review the diff:\n" + d)


def test_check_reports_drift(tmp_path):
    """--check exits 1 with a diff when a block differs (here: a hand-edited line)."""
    mod = _script()
    readme = tmp_path / "README.md"
    readme.write_text(
        "x\n\n<!-- example: COLUMNS=100 recipe=broken-rule exit=2 screener check -->\n```\nhand-written\n```\n",
        encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_examples.py"), "--check",
                          "--readme", str(readme)], capture_output=True, text=True, encoding="utf-8")
    assert out.returncode == 1
    assert "-hand-written" in out.stdout and "+1 error" in out.stdout
    assert mod.main(["--readme", str(readme)]) == 0            # rewrite, then it checks clean
    assert mod.main(["--check", "--readme", str(readme)]) == 0
    assert "hand-written" not in readme.read_text(encoding="utf-8")


def test_first_command_prints_no_warning(tmp_path):
    """`screener run rules/esg_compute_leaders.toml` (no --as-of) on a fresh copy of the sample."""
    for rel in ("config.toml", "rules", "universes", "data/sample"):
        src, dst = ROOT / rel, tmp_path / rel
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    env = dict(os.environ, COLUMNS="100", SCREENER_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-m", "screener", "run", "rules/esg_compute_leaders.toml"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8")
    assert p.returncode == 0, p.stderr
    lines = (p.stdout + p.stderr).splitlines()
    assert not [ln for ln in lines if "warning" in ln.lower()], p.stdout + p.stderr
    assert [ln for ln in lines if ln.startswith("⚠")] == [
        next(ln for ln in lines if ln.startswith("⚠ SAMPLE DATA"))], p.stdout
