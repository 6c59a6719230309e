"""Local execution: a process pool, one task per variant (its dates in order).

Workers are spawned (polars is not fork-safe), each with one polars thread (`POLARS_MAX_THREADS=1`
in the environment it starts with) so N workers use N cores; each reads the snapshot once and keeps
it, with the fields it derives, for every variant it runs (`screener.sweep.task`). With one worker
the variants run in this process, sharing everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager

#: memory a worker needs besides the snapshot (interpreter, polars, one variant's frames)
WORKER_BASE_BYTES = 300 * 2**20
#: a worker holds its snapshot in memory plus the rows and fields derived from it
DATA_FACTOR = 4


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(tasks: int, data_bytes: int) -> int:
    """As many workers as cores, as memory allows (each holds the snapshot) and as there are tasks."""
    n = cores()
    memory = available_memory()
    if memory:
        n = min(n, max(1, memory // (WORKER_BASE_BYTES + DATA_FACTOR * data_bytes)))
    return max(1, min(n, tasks))


def run_local(jobs: list, workers: int, on_result: Callable[[dict], None]) -> None:
    """Run every job; `on_result` gets each result as it completes. A task's exception cancels the
    rest and is raised; so is KeyboardInterrupt, after the workers are stopped. A worker that
    dies has its unfinished variants rerun in a new pool (`_run_pool`)."""
    from screener.sweep.task import run_variant

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_result(run_variant(job))
        return
    _run_pool(jobs, workers, on_result)


#: how many times a pool whose worker died (killed, out of memory) is replaced before the sweep
#: gives up; a dead worker's variants rerun in the new pool, with the same results
POOL_RESTARTS = 3


class WorkersDied(RuntimeError):
    """Worker processes kept dying: the variants not finished are named."""


def _run_pool(jobs: Iterable, workers: int, on_result) -> None:
    """Run `jobs` on pools of `workers` processes. A worker that dies breaks its pool: the jobs
    not yet finished go to a new pool, up to `POOL_RESTARTS` times (as Dask reruns a dead
    worker's tasks), then `WorkersDied`."""
    from concurrent.futures.process import BrokenProcessPool

    left = list(jobs)
    for attempt in range(POOL_RESTARTS + 1):
        finished: set[int] = set()

        def delivered(out: dict) -> None:
            finished.add(out["index"])
            on_result(out)

        try:
            _one_pool(left, workers, delivered)
            return
        except BrokenProcessPool:
            left = [j for j in left if j.index not in finished]
    names = ", ".join("base rule" if j.index < 0 else f"variant {j.index + 1}" for j in left[:10])
    times = POOL_RESTARTS + 1
    raise WorkersDied(f"worker processes died {times} time{'s' if times > 1 else ''} (out of memory? see the system "
                      "log); "
                      f"not finished: {names}{' ...' if len(left) > 10 else ''}")


def _one_pool(jobs: list, workers: int, on_result) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from screener.sweep.task import run_variant, worker_init

    saved = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = "1"  # read by polars when a worker imports it
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=worker_init)
    clean = False
    with _ctrl_c_as_flag() as interrupted:
        try:
            pending = {pool.submit(run_variant, job) for job in jobs}
            _restore(saved)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    on_result(fut.result())
                if interrupted.is_set():
                    raise KeyboardInterrupt
            clean = True
        finally:
            _restore(saved)
            _close(pool, clean)


@contextmanager
def _ctrl_c_as_flag():
    """Ctrl-C sets a flag the pool loop checks, instead of raising wherever the main thread is:
    raised inside `concurrent.futures.wait`, it can leave the futures' locks held, and the
    interpreter's exit then waits forever for the pool's manager thread (seen under load). Off
    the main thread (signals cannot be handled there) the flag is never set."""
    import signal
    import threading

    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _close(pool, clean: bool) -> None:
    """Shut `pool` down: after a clean run, let the workers exit; after an error, a dead worker or
    Ctrl-C (also one that comes while the workers exit), stop them now: the rest is not wanted."""
    if clean:
        try:
            pool.shutdown(wait=True)
            return
        except BaseException:
            _stop(pool)
            raise
    _stop(pool)


def _stop(pool) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def _restore(saved: str | None) -> None:
    if saved is None:
        os.environ.pop("POLARS_MAX_THREADS", None)
    else:
        os.environ["POLARS_MAX_THREADS"] = saved
