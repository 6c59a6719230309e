"""`screener sweep`: one rule's backtest over many variants of it (DESIGN.md "Sweeps").

- `spec.py`: `--set KEY=V1,V2,...` → settings, the cartesian product, the variant's TOML text;
- `plan.py`: the base rule and every variant checked like a rule file before anything runs;
- `task.py`: one task = one variant's backtest over every date in order (buffers chain them),
  with the per-process context (snapshot in memory, `backtesting.shared.SharedWork`);
- `local.py`: a process pool (or this process, with one worker);
- `cluster.py`: a Dask distributed cluster (`--scheduler`), with `--ship-data`;
- `progress.py`: a bar on a terminal, lines when piped;
- `result.py`: `SweepResult`, DESIGN's JSON shape, overlap and ranking;
- `files.py`: the JSON, CSV and HTML files.

`run_sweep` is the entry point the CLI uses. A variant's numbers equal `screener backtest` of
that variant written out as a file: both run `backtesting.run.run_backtest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from screener.problems import InputError, Problem

#: the summary figures a sweep can rank by (`--by`)
BY = ("ic_mean", "ic_ir", "watchlist_cumulative", "watchlist_net_cumulative", "hit_rate", "max_drawdown",
      "turnover_mean", "benchmark_cumulative", "null_periods")
#: --ship-data sends at most this many bytes (snapshot and universe files together)
SHIP_MAX_BYTES = 512 * 2**20


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep: `finished` names the variants that completed."""

    def __init__(self, finished: list[str], total: int):
        super().__init__(f"{len(finished)} of {total} finished")
        self.finished, self.total = finished, total


@dataclass
class SweepOptions:
    start: date | None = None
    end: date | None = None
    every: str | None = None
    dates: list | None = None
    by: str = "ic_mean"
    buckets: int = 5
    cost_bps: float | None = None
    benchmark: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    ship_data: bool = False
    ship_max_bytes: int = SHIP_MAX_BYTES
    max_variants: int | None = None
    yes: bool = False
    extra: dict = field(default_factory=dict)


def ship(config, max_bytes: int = SHIP_MAX_BYTES):
    """The snapshot and universe files as `ShippedData`; `InputError` above `max_bytes`."""
    from screener.data.snapshot import SNAPSHOT_FILES
    from screener.sweep.task import ShippedData

    def files(folder: Path, wanted) -> dict:
        out = {}
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if p.is_file() and not p.is_symlink() and wanted(p.name):
                    out[p.name] = p
        return out

    data = files(config.data_dir, lambda n: n == "snapshot.toml" or Path(n).stem in SNAPSHOT_FILES)
    universes = files(config.universes_dir, lambda n: n.endswith(".csv"))
    size = sum(p.stat().st_size for p in (*data.values(), *universes.values()))
    if size > max_bytes:
        raise InputError([Problem("ship-too-big", f"--ship-data would send {size / 2**20:,.1f} MB of snapshot and "
                                  f"universe files, more than the cap of {max_bytes / 2**20:,.0f} MB",
                                  hint="put the snapshot on a filesystem every worker reads at the same path and leave "
                                       "out --ship-data; or raise --ship-max-mb")])
    return ShippedData(config.data_dir.name, {n: p.read_bytes() for n, p in data.items()},
                       {n: p.read_bytes() for n, p in universes.items()})


def run_sweep(config, rule: str, sets, options: SweepOptions, progress=None, client=None):
    """Check the plan, run the base rule and every variant, return a `SweepResult`.

    `progress`: called with (total) and returning an object with `advance()` and `close()`
    (`progress.Progress`), or None. `client`: a Dask client to use instead of connecting to
    `options.scheduler` (tests). Raises `InputError` for bad input, `SweepInterrupted` on Ctrl-C."""
    from screener.backtesting import resolve_dates
    from screener.backtesting.run import check_inputs, in_memory
    from screener.data.snapshot import load_snapshot
    from screener.sweep.plan import make_plan
    from screener.sweep.result import SweepResult
    from screener.sweep.spec import MAX_VARIANTS
    from screener.sweep.task import DataMismatch, VariantJob

    o = options
    if o.by not in BY:
        from screener.problems import suggestion

        raise InputError([Problem("bad-option", f"--by must be a summary figure; got {o.by!r}",
                                  hint=suggestion(o.by, BY, "figure"))])
    if o.by == "watchlist_net_cumulative" and o.cost_bps is None:
        raise InputError([Problem("bad-option", "--by watchlist_net_cumulative needs --cost-bps")])
    if o.buckets < 2:
        raise InputError([Problem("bad-option", f"--buckets must be at least 2; got {o.buckets}")])
    if o.cost_bps is not None and o.cost_bps < 0:
        raise InputError([Problem("bad-option", f"--cost-bps must not be negative; got {o.cost_bps:g}")])
    if o.workers is not None and o.workers < 1:
        raise InputError([Problem("bad-option", f"--workers must be at least 1; got {o.workers}")])
    if o.workers is not None and o.scheduler:
        raise InputError([Problem("bad-option", "--workers is for a local sweep; with --scheduler the cluster's "
                                  "workers run the variants", hint="leave out one of them")])
    if o.ship_data and not (o.scheduler or client):
        raise InputError([Problem("bad-option", "--ship-data only applies with --scheduler")])
    dates = resolve_dates(o.start, o.end, o.every, o.dates)
    plan = make_plan(config, rule, sets, max_variants=o.max_variants or MAX_VARIANTS, yes=o.yes)
    snapshot = load_snapshot(config.data_dir, config.display)
    check_inputs(in_memory(snapshot) if o.benchmark else snapshot, dates, o.benchmark)
    shipped = ship(config, o.ship_max_bytes) if o.ship_data else None

    shown_every = None if o.dates else (o.every or "month")
    common = dict(config=config, dates=tuple(dates), start=None if o.dates else o.start,
                  end=None if o.dates else o.end, every=shown_every, buckets=o.buckets, cost_bps=o.cost_bps,
                  benchmark=o.benchmark, fingerprint=snapshot.fingerprint)
    jobs = [VariantJob(index=-1, screen=plan.base, **common)]
    jobs += [VariantJob(index=v.index, screen=s, **common) for v, s in zip(plan.variants, plan.screens)]

    results: dict[int, dict] = {}
    bar = progress(len(jobs)) if progress else None

    def on_result(out: dict) -> None:
        results[out["index"]] = out
        if bar is not None:
            bar.advance()

    try:
        if o.scheduler or client is not None:
            from screener.sweep.cluster import run_cluster

            run_cluster(jobs, o.scheduler or "the given client", shipped, on_result, client=client)
        else:
            from screener.sweep.local import default_workers, run_local

            size = sum(p.stat().st_size for p in config.data_dir.iterdir() if p.is_file()) \
                if config.data_dir.is_dir() else 0
            workers = o.workers or default_workers(len(jobs), size)
            run_local(jobs, workers, on_result)
    except DataMismatch as e:
        raise InputError([Problem("data-mismatch", str(e), hint="every worker must read the same snapshot at the same "
                                  "path (a shared filesystem), or pass --ship-data")]) from None
    except KeyboardInterrupt:
        names = ["base rule" if i < 0 else f"variant {i + 1} ({plan.variants[i].label()})" for i in sorted(results)]
        raise SweepInterrupted(names, len(jobs)) from None
    finally:
        if bar is not None:
            bar.close()

    return SweepResult(rule=plan.base.path, rule_name=plan.base.name, keys=tuple(s.key for s in plan.settings),
                       start=common["start"], end=common["end"], every=shown_every, dates=tuple(dates), by=o.by,
                       base=results[-1], variants=[(v, results[v.index]) for v in plan.variants],
                       settings=plan.settings)
