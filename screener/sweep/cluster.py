"""Dask execution (`--scheduler tcp://HOST:PORT`): one task per variant on a distributed cluster.

- The client connects with a short timeout: a scheduler that does not answer is bad input
  (exit 2) naming the address, within seconds.
- Every worker must run the client's screener and polars (checked with `Client.run` before any task
  is sent), since a variant's numbers must not depend on where it ran.
- Data placement: by default workers read the snapshot and universes at the config's paths (the
  same path on every machine: a shared filesystem); each task carries the snapshot fingerprint the
  client saw and a worker that reads other data fails the sweep. With `--ship-data`, the files are
  sent once to every worker (`Client.scatter(broadcast=True)`), capped in size.
- A worker that dies mid-sweep: the scheduler reruns its tasks on the others (Dask's
  `allowed-failures`); results do not depend on which worker ran a task.
"""

from __future__ import annotations

from collections.abc import Callable

from screener.problems import InputError, Problem

#: seconds to wait for the scheduler to answer, and for a first worker
CONNECT_TIMEOUT = 5
WORKER_TIMEOUT = 30
PACKAGES = ("theme-screener", "polars")


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InputError([Problem("missing-package", "--scheduler needs the `distributed` package",
                                  hint="pip install 'theme-screener[cluster]'")]) from None
    return distributed


def versions() -> dict:
    """The screener and polars versions of this process (the same function runs on workers)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    try:
        import screener

        out["screener-import"] = getattr(screener, "__version__", None) or "importable"
    except ImportError:
        out["screener-import"] = None
    return out


def connect(address: str):
    distributed = _import_distributed()
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError([Problem("no-scheduler", f"the Dask scheduler at {address} does not answer "
                                  f"({type(e).__name__}: {e})".strip(), hint="start one with `dask scheduler --host "
                                  "127.0.0.1` and give its address, e.g. --scheduler tcp://127.0.0.1:8786")]) from None
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except (TimeoutError, OSError):
        client.close()
        raise InputError([Problem("no-workers", f"no Dask worker joined the scheduler at {address} within "
                                  f"{WORKER_TIMEOUT} s", hint=f"start one: dask worker {address}")]) from None
    return client


def check_versions(client, address: str) -> None:
    import cloudpickle

    mine = versions()
    # sent by value: a worker without screener installed still answers, and is named
    probe = cloudpickle.loads(cloudpickle.dumps(_probe()))
    theirs = client.run(probe)
    problems = []
    for worker, found in sorted(theirs.items()):
        if found.get("screener-import") is None:
            problems.append(f"{worker}: screener is not installed")
            continue
        for name in PACKAGES:
            if found.get(name) != mine.get(name):
                problems.append(f"{worker}: {name} {found.get(name)} (here {mine.get(name)})")
    if problems:
        raise InputError([Problem("worker-versions", f"the workers of {address} do not run this screener and polars: "
                                  + "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else ""),
                                  hint="install the same versions where the workers run "
                                       "(pip install 'theme-screener[cluster]==<version>' polars==<version>)")])


def _probe():
    def probe():  # defined here so that cloudpickle sends its code, not a reference to this module
        from importlib.metadata import PackageNotFoundError, version

        out = {}
        for name in ("theme-screener", "polars"):
            try:
                out[name] = version(name)
            except PackageNotFoundError:
                out[name] = None
        try:
            import screener

            out["screener-import"] = getattr(screener, "__version__", None) or "importable"
        except ImportError:
            out["screener-import"] = None
        return out

    return probe


def run_cluster(jobs: list, address: str, shipped, on_result: Callable[[dict], None], client=None) -> None:
    """Run every job on the cluster at `address` (or on `client`); `on_result` per completed task."""
    import uuid

    distributed = _import_distributed()
    own = client is None
    client = client or connect(address)
    futures = []
    try:
        check_versions(client, address)
        data = client.scatter(shipped, broadcast=True, hash=False) if shipped is not None else None
        token = uuid.uuid4().hex[:8]
        from screener.sweep.task import run_variant_with

        futures = [client.submit(run_variant_with, job, data, key=f"screener-sweep-{token}-{job.index + 1}",
                                 pure=False) for job in jobs]
        for fut in distributed.as_completed(futures):
            on_result(fut.result())
        futures = []
    finally:
        if futures:
            client.cancel(futures)
        if shipped is not None:  # the workers' copies of the shipped files go with the sweep
            from screener.sweep.task import remove_shipped

            try:
                client.run(remove_shipped, shipped.digest)
            except Exception:  # noqa: BLE001 - a worker gone or a scheduler unreachable: temp files only
                pass
        if own:
            client.close()
