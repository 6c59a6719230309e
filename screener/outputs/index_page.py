"""`<out>/index.html`: every rule of an output folder with its newest report, that report's
as-of date and size, and what changed since the run before it.

Regenerated after every published run (after `latest.*`, DESIGN's order), by rescanning the
output folder under one lock on the folder (`<out>/.index.lock`): two runs of different rules
at the same moment each rebuild the whole page in turn, so neither loses the other's entry.
A rule folder counts when it holds a `latest.*` report; rules are listed by name.
"""

from __future__ import annotations

import json
from pathlib import Path

from screener.atomic import write_bytes
from screener.outputs.safe import template_text

INDEX_FILE = "index.html"
LOCK_FILE = ".index.lock"
#: which latest.* a reader is sent to first
PREFERRED = ("html", "xlsx", "md", "csv", "json", "parquet")


def entries(out_dir: Path, history) -> list[dict]:
    """One entry per rule folder with a latest report: rule, report (a path relative to
    `out_dir`), format, as_of, size in bytes, and `changes` ({"entered", "left", "moved",
    "names"}) since the run before the newest recorded one, or None without two runs."""
    out = []
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            meta = json.loads((folder / ".latest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        fmt = next((f for f in PREFERRED if isinstance(meta.get(f), str) and (folder / f"latest.{f}").is_file()), None)
        if fmt is None:
            continue
        report = folder / f"latest.{fmt}"
        stem = meta.get("stem") if isinstance(meta.get("stem"), str) else folder.name  # older files: the folder
        out.append({"rule": stem, "report": report.relative_to(out_dir).as_posix(), "format": fmt,
                    "as_of": meta[fmt], "size": report.stat().st_size,
                    "changes": _changes(history, stem, meta[fmt])})
    return out


def _changes(history, stem: str, as_of: str) -> dict | None:
    """The changes of the report's run (the newest recorded run as of its date) against the run
    it compared with; None for a first run or an unreadable history."""
    try:
        run = history.at_or_before(stem, as_of)
        if run is None:
            return None
        changes = history.diff(stem, None, run.run_id)
    except Exception:  # an unreadable history must not take the index down; the run reports it
        return None
    if changes.before is None:
        return None
    names = [f"+{e['symbol']}" for e in changes.entered] + [f"-{e['symbol']}" for e in changes.left]
    return {"entered": len(changes.entered), "left": len(changes.left), "moved": len(changes.moved),
            "names": names[:8], "more": max(0, len(names) - 8), "since": changes.before.as_of}


def render_index(out_dir: Path, history, generated_at: str) -> bytes:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("screener.outputs", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, finalize=template_text)
    page = env.get_template("index.html").render(entries=entries(out_dir, history), generated_at=generated_at,
                                                  size=_size)
    return page.encode("utf-8")


def write_index(out_dir: Path, history, generated_at: str, timeout: float = 120.0) -> Path:
    """Rebuild `<out>/index.html` under the folder's index lock; atomic like every export."""
    from filelock import FileLock

    with FileLock(str(out_dir / LOCK_FILE), timeout=timeout, fallback_to_soft=False):
        target = out_dir / INDEX_FILE
        write_bytes(target, render_index(out_dir, history, generated_at))
    return target


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover
