"""`watchlists/index.html`: every rule's newest report, rebuilt after each published run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .test_html import chromium, dom


def rows(markup: str) -> dict[str, list[str]]:
    out = {}
    for tr in dom(markup).find_all("tr"):
        if "rule" in tr.classes:
            out[tr.attrs["data-rule"]] = [td.text().strip() for td in tr.find_all("td")]
    return out


def test_the_index_lists_every_rule_with_its_newest_report_and_changes(sample, cli):
    assert cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-09-30", "--format", "html").exit_code == 0
    assert cli(sample, "run", "quantum_pure_plays", "--as-of", "2026-11-20", "--format", "csv").exit_code == 0
    r = cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-11-20", "--format", "html")
    assert r.exit_code == 0, r.output
    index = sample / "watchlists" / "index.html"
    assert "index.html" in r.stdout
    got = rows(index.read_text(encoding="utf-8"))
    assert set(got) == {"esg_compute_leaders", "quantum_pure_plays"}
    rule, report, as_of, size, changes = got["esg_compute_leaders"]
    assert report == "esg_compute_leaders/latest.html" and as_of == "2026-11-20"
    assert size.endswith("KB") and "since 2026-09-30" in changes
    assert got["quantum_pure_plays"][1:3] == ["quantum_pure_plays/latest.csv", "2026-11-20"]
    assert got["quantum_pure_plays"][4] == "first run"
    # a backfill of an older date never moves the link to an older report
    assert cli(sample, "run", "esg_compute_leaders", "--as-of", "2026-08-31", "--format", "html").exit_code == 0
    after_backfill = rows(index.read_text(encoding="utf-8"))["esg_compute_leaders"]
    assert after_backfill[2] == "2026-11-20" and after_backfill[4] == changes  # still the 2026-11-20 run's changes


def test_runs_of_two_rules_at_once_both_reach_the_index(sample):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-m", "screener", "run", rule, "--format", "csv"], cwd=sample, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for rule in ("esg_compute_leaders", "quantum_pure_plays", "bci_listed_exposure", "ai_compute_garp")]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    got = rows((sample / "watchlists" / "index.html").read_text(encoding="utf-8"))
    assert set(got) == {"esg_compute_leaders", "quantum_pure_plays", "bci_listed_exposure", "ai_compute_garp"}


def test_a_browser_opens_the_index_and_follows_its_links(sample, cli, tmp_path):
    assert cli(sample, "run", "esg_compute_leaders", "--format", "html").exit_code == 0
    index = sample / "watchlists" / "index.html"
    shown = chromium(tmp_path / "profile", "--dump-dom", index.as_uri()).stdout.decode("utf-8")
    got = rows(shown)
    parsed = dom(shown)
    assert list(got) == ["esg_compute_leaders"]
    (link,) = [a.attrs["href"] for a in parsed.find_all("a")]
    assert (index.parent / link).is_file()
