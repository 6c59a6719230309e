"""`screener sweep` on the sample project: --set parsing, variant checks, DESIGN's JSON shape, a
variant equal to `screener backtest` of that variant written out as a file, shared work, the
local process pool, progress and the files."""

from __future__ import annotations

import io
import json
import re

import pytest

from screener.sweep.spec import read_value, split_values, toml_text

RULE = "rules/esg_compute_leaders.toml"
SPAN = ("--from", "2026-03-31", "--to", "2026-11-20")


def test_values_split_at_commas_outside_quotes_and_brackets():
    assert split_values("0.2, 0.4,0.6") == ["0.2", "0.4", "0.6"]
    assert split_values("'x in (1, 2)', \"a, b\", [1, 2], { a = 1, b = 2 }") == [
        "'x in (1, 2)'", '"a, b"', "[1, 2]", "{ a = 1, b = 2 }"]
    assert [read_value(v) for v in split_values("'x in (1, 2)',[1, 2],true,10")] == ["x in (1, 2)", [1, 2], True, 10]
    with pytest.raises(ValueError):
        read_value("zscore")  # text needs quotes


def test_the_toml_writer_round_trips_a_rule(sample):
    import tomllib

    for path in (sample / "rules").glob("*.toml"):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        assert tomllib.loads(toml_text(doc)) == doc, path.name


def _variant_file(sample, weight: str, top: str) -> str:
    """The rule with the earnings weight and top edited by hand, as a user would."""
    text = (sample / RULE).read_text(encoding="utf-8")
    text = re.sub(r'earnings = \{ expr = "eps_growth_fy1", weight = 0.5 \}',
                  f'earnings = {{ expr = "eps_growth_fy1", weight = {weight} }}', text)
    text = re.sub(r"^top = 10", f"top = {top}", text, flags=re.M)
    path = sample / "rules" / "by_hand.toml"
    path.write_text(text, encoding="utf-8")
    return "rules/by_hand.toml"


def test_json_shape_and_a_variant_equals_its_backtest_number_for_number(sample, cli):
    r = cli(sample, "sweep", RULE, "--set", "scores.earnings.weight=0.2,0.5", "--set", "output.top=3,10", *SPAN,
            "--cost-bps", "10", "--workers", "1", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"base", "variants"} <= set(out) and out["by"] == "ic_mean" and out["keys"] == [
        "scores.earnings.weight", "output.top"]
    # the first --set varies slowest
    assert [v["variant"] for v in out["variants"]] == [
        {"scores.earnings.weight": 0.2, "output.top": 3}, {"scores.earnings.weight": 0.2, "output.top": 10},
        {"scores.earnings.weight": 0.5, "output.top": 3}, {"scores.earnings.weight": 0.5, "output.top": 10}]
    for v in out["variants"]:
        assert set(v) >= {"variant", "summary", "components", "overlap_mean"}
    assert sorted(v["rank"] for v in out["variants"]) == [1, 2, 3, 4]

    base = json.loads(cli(sample, "backtest", RULE, *SPAN, "--cost-bps", "10", "--json").stdout)
    assert out["base"]["summary"] == base["summary"] and out["base"]["components"] == base["components"]
    # the variant equal to the rule as written overlaps it fully
    assert out["variants"][3]["summary"] == base["summary"] and out["variants"][3]["overlap_mean"] == 1.0

    for i, (weight, top) in enumerate([("0.2", "3"), ("0.2", "10"), ("0.5", "3")]):
        by_hand = json.loads(cli(sample, "backtest", _variant_file(sample, weight, top), *SPAN, "--cost-bps", "10",
                                 "--json").stdout)
        assert out["variants"][i]["summary"] == by_hand["summary"]  # ==: every digit
        assert out["variants"][i]["components"] == by_hand["components"]
        base_members = [p["members"] for p in base["periods"]]
        shares = [len(set(m) & set(b)) / len(b) for m, b in zip([p["members"] for p in by_hand["periods"]],
                                                                 base_members) if b]
        assert out["variants"][i]["overlap_mean"] == pytest.approx(sum(shares) / len(shares), abs=1e-15)


def test_a_filter_expression_variant_and_the_local_pool(sample, cli, monkeypatch):
    sets = ("--set", "filters.growing='eps_growth_fy1 >= 0.10 and pe_fy1 < 80', 'eps_growth_fy1 >= 0.2'",
            "--set", "scores.value.normalize='rank','zscore'")
    one = cli(sample, "sweep", RULE, *sets, *SPAN, "--workers", "1", "--json")
    assert one.exit_code == 0, one.output
    two = cli(sample, "sweep", RULE, *sets, *SPAN, "--workers", "2", "--json")
    assert two.exit_code == 0, two.output
    assert json.loads(one.stdout) == json.loads(two.stdout)
    variants = json.loads(one.stdout)["variants"]
    assert variants[0]["variant"]["filters.growing"] == "eps_growth_fy1 >= 0.10 and pe_fy1 < 80"
    assert variants[0]["summary"] != variants[2]["summary"]


def test_fields_are_derived_once_per_date_and_field_set(sample):
    from screener.config import load_config
    from screener.sweep import SweepOptions, run_sweep, task

    config = load_config(sample / "config.toml")
    opts = SweepOptions(start=__import__("datetime").date(2026, 3, 31), end=__import__("datetime").date(2026, 11, 20),
                        workers=1)
    result = run_sweep(config, str(sample / RULE), ["scores.esg.weight=0.05,0.1,0.2,0.3", "output.top=5,10"], opts)
    assert len(result.variants) == 8
    (_, _, shared), = task._CONTEXTS.values()
    assert shared.derived == len(result.dates) - 1  # 9 backtests, one derive per date
    run_sweep(config, str(sample / RULE), ["filters.profitable='eps_fy1 > 0','revenue_fy1 > 0'"], opts)
    (_, _, shared), = task._CONTEXTS.values()
    assert shared.derived == 2 * (len(result.dates) - 1)  # a new field: a second field set


@pytest.mark.parametrize("args, words", [
    (("--set", "scores.earning.weight=1"), "did you mean `scores.earnings.weight`?"),
    (("--set", "output.topp=1"), "did you mean `output.top`?"),
    (("--set", "output.top=5,abc"), "`abc` is not a TOML value"),
    (("--set", "output.top=5,'ten'"), "--set output.top=5,'ten'"),
    (("--set", "scores.value.normalize='rank','zcore'"), "scores.value.normalize=\"zcore\""),
    (("--set", "output.top=5,10", "--set", "output.keep=8,12"), "variant 3 (output.top=10, output.keep=8)"),
    (("--set", "output.keep=4,12"), "--set output.keep=4,12"),
    (("--set", "output.top=1,2,3", "--set", "scores.esg.weight=1,2", "--max-variants", "5"), "6 variants"),
    (("--set", "filters.rated='esg_ratin > 1'"), "esg_rating"),
    (("--set", "output.top=5", "--by", "ic_maen"), "did you mean `ic_mean`?"),
])
def test_bad_input_exits_2_naming_the_set_and_the_variant(sample, cli, args, words):
    r = cli(sample, "sweep", RULE, *args, *SPAN)
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert "Traceback" not in r.output


def test_yes_runs_more_variants_than_the_cap(sample, cli):
    r = cli(sample, "sweep", RULE, "--set", "output.top=3,4,5", "--max-variants", "2", "--yes", *SPAN,
            "--workers", "1", "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["variants"]) == 3


def test_files_and_the_terminal(sample, cli, tmp_path):
    out_dir = tmp_path / "sw"
    r = cli(sample, "sweep", RULE, "--set", "scores.earnings.weight=0.2,0.5", "--set", "scores.esg.weight=0.1,0.3",
            *SPAN, "--workers", "1", "--format", "html,csv,json", "--out", str(out_dir))
    assert r.exit_code == 0, r.output
    assert "ranked by ic_mean" in r.stdout and "base" in r.stdout
    payload = json.loads((out_dir / "sweep.json").read_text(encoding="utf-8"))
    assert len(payload["variants"]) == 4
    rows = (out_dir / "sweep.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("variant,scores.earnings.weight,scores.esg.weight,rank,overlap_mean,")
    assert len(rows) == 6 and rows[1].startswith("base,")
    html = (out_dir / "sweep.html").read_text(encoding="utf-8")
    assert "Heat map of ic_mean: scores.earnings.weight × scores.esg.weight" in html
    assert html.count('class="base-cell"') == 1 and "base rule</span>" in html  # (0.5, 0.3) is the rule as written
    assert "<script" not in html


def test_progress_lines_when_piped():
    from screener.sweep.progress import Progress

    buf = io.StringIO()
    p = Progress(3, stream=buf, tty=False, every=0)
    for _ in range(3):
        p.advance()
    p.close()
    assert buf.getvalue().splitlines()[-1].startswith("sweep: 3/3 variants done (100%)")


def test_ctrl_c_stops_the_pool_and_names_the_finished_variants(sample):
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "screener", "sweep", RULE, "--set", "scores.earnings.weight=0.1,0.2,0.3,0.4,0.5,0.6",
           "--set", "output.top=3,4,5,6,7,8,9,10", "--set", "scores.esg.weight=0.1,0.2,0.3",
           "--set", "scores.value.weight=0.1,0.2,0.3", "--set", "output.keep=12,15", "--yes", *SPAN,
           "--workers", "2", "--json"]  # 865 backtests: far from done at the first progress line, after 5 s
    p = subprocess.Popen(cmd, cwd=sample, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    line, seen = "", []
    while not line.startswith("sweep: ") and time.monotonic() < deadline:  # a first progress line
        line = p.stderr.readline()
        seen.append(line)
        if not line and p.poll() is not None:
            break
    assert line.startswith("sweep: ") and "865/865" not in line, (p.poll(), seen[-5:])
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    # which finish first depends on the two workers' pace: the base rule, or a variant
    assert out == "" and re.search(r"interrupted: [1-9]\d* of 865 backtests had finished: (base rule|variant \d+)",
                                   err), err


def test_the_variant_cap_comes_from_the_config_unless_given(sample, cli):
    with open(sample / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[sweep]\nmax_variants = 2\n")
    r = cli(sample, "sweep", RULE, "--set", "output.top=3,4,5", *SPAN, "--workers", "1", "--json")
    assert r.exit_code == 2 and "more than 2" in r.stderr and "[sweep] max_variants" in r.stderr
    r = cli(sample, "sweep", RULE, "--set", "output.top=3,4,5", "--max-variants", "3", *SPAN, "--workers", "1",
            "--json")
    assert r.exit_code == 0, r.output
    (sample / "config.toml").write_text((sample / "config.toml").read_text(encoding="utf-8")
                                        .replace("max_variants = 2", "max_variants = 0"), encoding="utf-8")
    r = cli(sample, "sweep", RULE, "--set", "output.top=3", *SPAN)
    assert r.exit_code == 2 and "sweep.max_variants" in r.stderr


def test_a_local_worker_that_dies_has_its_variants_rerun_with_the_same_result(sample):
    """A worker process killed mid-sweep (as the kernel kills one out of memory) breaks its pool:
    the variants not finished rerun in a new pool, and the result equals a sweep in one process."""
    import multiprocessing
    import os
    import signal
    from datetime import date

    from screener.config import load_config
    from screener.sweep import SweepOptions, run_sweep

    config = load_config(sample / "config.toml")
    sets = ["scores.esg.weight=0.1,0.2,0.3,0.4,0.5", "output.top=5,10"]
    span = dict(start=date(2026, 3, 31), end=date(2026, 11, 20))
    killed = []

    class KillOnce:
        def __init__(self, total):
            pass

        def advance(self):
            if not killed:
                workers = [p for p in multiprocessing.active_children() if p.is_alive()]
                assert workers
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)

        def close(self):
            pass

    pooled = run_sweep(config, str(sample / RULE), sets, SweepOptions(workers=2, **span), progress=KillOnce)
    assert killed
    alone = run_sweep(config, str(sample / RULE), sets, SweepOptions(workers=1, **span))
    assert pooled.to_dict() == alone.to_dict()
