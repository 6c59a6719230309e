"""One sweep task: one variant's backtest over every date, in order (buffers chain the dates).

`run_variant(job)` is what a local worker process or a Dask worker runs. Each process keeps one
context per (config, data, dates): the snapshot read, checked and held in memory once, and a
`SharedWork` every variant in that process uses, so the fields derived at a date are derived once
per process and field set, whichever variants that process runs.

The data is either read from the path in the config (the same path on every machine: a shared
filesystem) or shipped with the task (`ShippedData`, `--ship-data`): the snapshot folder's and the
universe folder's files as bytes, written once per process into a temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class ShippedData:
    """The snapshot and universe files of a sweep, as bytes (`--ship-data`)."""

    data_name: str
    data: dict = field(default_factory=dict)       # file name -> bytes
    universes: dict = field(default_factory=dict)  # file name -> bytes

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.data.values()) + sum(len(b) for b in self.universes.values())

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (self.data, self.universes):
            for name in sorted(part):
                h.update(name.encode() + b"\0" + hashlib.sha256(part[name]).digest())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class VariantJob:
    index: int                     # -1 for the base rule
    config: object                 # `Config`
    screen: object                 # the variant's checked `Screen`
    dates: tuple[date, ...]
    start: date | None = None
    end: date | None = None
    every: str | None = None
    buckets: int = 5
    cost_bps: float | None = None
    benchmark: str | None = None
    fingerprint: str = ""          # the snapshot the client saw; a worker seeing other data refuses
    shipped: object = None         # `ShippedData` (or a Dask future of it), or None: read config paths


class DataMismatch(RuntimeError):
    """A worker sees other data at the snapshot path than the client did."""


#: per process: (config, data, dates) -> (snapshot, SharedWork)
_CONTEXTS: dict = {}


def _shipped_root(digest: str) -> Path:
    return Path(tempfile.gettempdir()) / f"screener-sweep-{os.getpid()}-{digest}"


def _materialise(shipped: ShippedData) -> tuple[Path, Path]:
    """The shipped files written once per worker process, whole: into a temporary folder renamed
    into place (a task running beside it, or one after a killed write, never reads half of them)."""
    import shutil

    root = _shipped_root(shipped.digest)
    if not root.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        for folder, files in ((tmp / shipped.data_name, shipped.data), (tmp / "universes", shipped.universes)):
            folder.mkdir(parents=True, exist_ok=True)
            for name, blob in files.items():
                (folder / name).write_bytes(blob)
        try:
            os.rename(tmp, root)
        except OSError:  # another task of this process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return root / shipped.data_name, root / "universes"


def remove_shipped(digest: str) -> bool:
    """On a worker, after a sweep: remove this process's copy of the shipped data `digest` (and
    forget the snapshot read from it). True when there was one."""
    import shutil

    root = _shipped_root(digest)
    for key in [k for k in _CONTEXTS if str(root) in k[1]]:
        del _CONTEXTS[key]
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
        return True
    return False


def context(job: VariantJob):
    """The process's (config, snapshot, SharedWork) for the job's data and dates."""
    from screener.backtesting.run import in_memory
    from screener.backtesting.shared import SharedWork
    from screener.data.snapshot import load_snapshot

    config = job.config
    if job.shipped is not None:
        data_dir, uni_dir = _materialise(job.shipped)
        config = replace(config, data_dir=data_dir, universes_dir=uni_dir)
    key = (str(config.path), str(config.data_dir), str(config.universes_dir), job.fingerprint, job.dates)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one sweep at a time per process: keep memory bounded
        snapshot = in_memory(load_snapshot(config.data_dir, config.display))
        if job.fingerprint and snapshot.fingerprint != job.fingerprint:
            raise DataMismatch(f"the snapshot at {config.data_dir} on this worker is not the one the client read "
                               f"(fingerprint {snapshot.fingerprint[:12]} against {job.fingerprint[:12]})")
        _CONTEXTS[key] = (config, snapshot, SharedWork(config, snapshot, list(job.dates)))
    return _CONTEXTS[key]


def run_variant(job: VariantJob) -> dict:
    """The variant's backtest as `BacktestResult.to_dict()` plus `index`."""
    from screener.backtesting.run import run_backtest

    config, snapshot, shared = context(job)
    result = run_backtest(config, job.screen, snapshot, list(job.dates), start=job.start, end=job.end,
                          every=job.every, buckets=job.buckets, cost_bps=job.cost_bps, benchmark=job.benchmark,
                          shared=shared)
    out = result.to_dict()
    out["index"] = job.index
    out["warnings"] = list(result.warnings)
    out["rule_text"] = result.rule_text
    return out


def worker_init() -> None:
    """A local pool worker: one polars thread (set before polars is imported, by the parent's
    environment), and Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_variant_with(job: VariantJob, shipped) -> dict:
    """`run_variant` with the shipped data passed beside the job (Dask resolves a future only
    as a task's argument, not inside a dataclass)."""
    return run_variant(job if shipped is None else replace(job, shipped=shipped))
