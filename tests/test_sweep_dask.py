"""`screener sweep --scheduler` on a real Dask cluster: `distributed.LocalCluster` with two worker
processes (one per module). The same sweep locally and on the cluster, and a single `backtest` of
one variant, compared number for number; shipped data; a worker killed mid-sweep; a scheduler
that does not answer; workers on other versions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import date

import pytest

distributed = pytest.importorskip("distributed")  # in the `test` extra: never skipped there

from .conftest import REPO  # noqa: E402

RULE = "rules/esg_compute_leaders.toml"
SETS = ["scores.earnings.weight=0.2,0.5", "output.top=3,10"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-dask")
    for name in ("rules", "universes"):
        shutil.copytree(REPO / name, root / name)
    shutil.copytree(REPO / "data" / "sample", root / "data" / "sample")
    shutil.copy(REPO / "config.toml", root / "config.toml")
    return root


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _options(**kw):
    from screener.sweep import SweepOptions

    return SweepOptions(start=date(2026, 3, 31), end=date(2026, 11, 20), **kw)


def _sweep(project, sets=SETS, client=None, **kw):
    from screener.config import load_config
    from screener.sweep import run_sweep

    config = load_config(project / "config.toml")
    return run_sweep(config, str(project / RULE), sets, _options(**kw), client=client)


@pytest.fixture(scope="module")
def local(project):
    return _sweep(project, workers=1).to_dict()


def test_the_cluster_gives_the_local_result_and_the_backtest_of_a_variant(project, client, local, cli):
    on_cluster = _sweep(project, client=client).to_dict()
    assert on_cluster == local
    # variant 1 (earnings weight 0.2, top 3) written out as a file and backtested alone
    text = (project / RULE).read_text(encoding="utf-8")
    text = text.replace('earnings = { expr = "eps_growth_fy1", weight = 0.5 }',
                        'earnings = { expr = "eps_growth_fy1", weight = 0.2 }').replace("\ntop = 10", "\ntop = 3")
    (project / "rules" / "v1.toml").write_text(text, encoding="utf-8")
    r = cli(project, "backtest", "rules/v1.toml", "--from", "2026-03-31", "--to", "2026-11-20", "--json")
    alone = json.loads(r.stdout)
    assert on_cluster["variants"][0]["variant"] == {"scores.earnings.weight": 0.2, "output.top": 3}
    assert on_cluster["variants"][0]["summary"] == alone["summary"]
    assert on_cluster["variants"][0]["components"] == alone["components"]


def test_shipped_data_gives_the_same_result(project, client, local):
    assert _sweep(project, client=client, ship_data=True).to_dict() == local
    # and the workers' copies of the shipped files are gone afterwards
    import tempfile

    left = client.run(lambda: sorted(p.name for p in __import__("pathlib").Path(tempfile.gettempdir())
                                     .glob(f"screener-sweep-{__import__('os').getpid()}-*")))
    assert all(names == [] for names in left.values()), left


def test_shipping_more_than_the_cap_is_refused(project, client):
    from screener.problems import InputError

    with pytest.raises(InputError, match="more than the cap"):
        _sweep(project, client=client, ship_data=True, ship_max_bytes=1000)


def test_a_worker_killed_mid_sweep_changes_nothing(project, client):
    from screener.config import load_config
    from screener.sweep import run_sweep

    sets = ["scores.earnings.weight=0.1,0.2,0.3,0.4,0.5,0.6", "output.top=3,5,10"]
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = []

    class Killer:
        def __init__(self, total):
            pass

        def advance(self):
            if not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        def close(self):
            pass

    config = load_config(project / "config.toml")
    on_cluster = run_sweep(config, str(project / RULE), sets, _options(), progress=Killer, client=client).to_dict()
    assert killed
    assert on_cluster == _sweep(project, sets=sets, workers=1).to_dict()
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the other tests


def test_a_scheduler_that_does_not_answer_exits_2_within_seconds(project, cli):
    started = time.monotonic()
    r = cli(project, "sweep", RULE, "--set", "output.top=3", "--from", "2026-03-31", "--to", "2026-11-20",
            "--scheduler", "tcp://127.0.0.1:9")
    assert r.exit_code == 2, r.output
    assert "the Dask scheduler at tcp://127.0.0.1:9 does not answer" in r.stderr
    assert time.monotonic() - started < 15


def test_workers_on_another_polars_are_refused(project, client, monkeypatch):
    from screener.problems import InputError
    from screener.sweep import cluster

    real = cluster.versions
    monkeypatch.setattr(cluster, "versions", lambda: {**real(), "polars": "0.0.1"})
    with pytest.raises(InputError, match=r"do not run this screener and polars: .*polars .* \(here 0\.0\.1\)"):
        _sweep(project, client=client)
