"""Notifications for scheduled runs: one message per rule per run, sent to each `[[jobs]] notify`
target (Apprise URLs), after every write of the run (DESIGN.md's order: exports, history,
`latest.*`, then notifications).

- `${NAME}` in a URL is read from the environment when the message is sent, so tokens stay out of
  `config.toml`. A missing variable is an error naming it; that target is skipped, nothing fails.
- URLs are never shown whole: `redact` keeps the scheme and a host that looks like a host name
  (`json://hooks.example.internal:8787/***`); a token in the host place (`dingtalk://TOKEN/`),
  user, password, path and query become `***`.
- `notify_on`: "change" (default) sends when something entered or left (a first run, with no
  earlier run to compare with, is not a change); "always" every run; "never" nothing. A failed
  rule or job sends its error unless "never".
- A message is capped at `MAX_CHARS`: its item lines stop with "... and N more"; the link to the
  report is always kept.
- Delivery is short (`cto`/`rto` added to each URL unless set) and never raises: a failure is a
  `Delivery` with a redacted target and reason, for the caller to log.

Apprise is imported here only, inside the functions that send or check (the CLI stays fast).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

NOTIFY_ON = ("change", "always", "never")
MAX_CHARS = 1800
CONNECT_TIMEOUT = 3  # seconds, Apprise's `cto`
READ_TIMEOUT = 5  # seconds, Apprise's `rto`
PLACEHOLDER = "placeholder1"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REPORT_ORDER = ("html", "md", "xlsx", "csv", "json", "parquet")


class MissingVariable(Exception):
    """A `${NAME}` in a notify URL has no value in the environment."""

    def __init__(self, name: str, url: str):
        super().__init__(f"environment variable {name} is not set (used in notify target {redact(url)})")
        self.name = name


@dataclass(frozen=True)
class Message:
    title: str
    body: str


@dataclass(frozen=True)
class Delivery:
    target: str  # redacted
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict:
        return {"target": self.target, "ok": self.ok, "error": self.error}


def variables(url: str) -> list[str]:
    """The `${NAME}`s a URL uses, in order."""
    return _VAR.findall(url)


def expand(url: str, env=None, placeholder: str | None = None) -> str:
    """`url` with each `${NAME}` replaced by its environment value. An unset one raises
    `MissingVariable`, or becomes `placeholder` when one is given (for checking the URL's shape)."""
    env = os.environ if env is None else env

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name in env:
            return env[name]
        if placeholder is not None:
            return placeholder
        raise MissingVariable(name, url)

    return _VAR.sub(value, url)


def redact(url: str) -> str:
    """The scheme and, when it looks like a host name (a dot, `localhost`, an IP), the host and
    port; everything else is `***`. `${NAME}` counts as secret wherever it is."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "***"
    try:
        parts = urlsplit(f"x://{rest}")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{scheme}://***"
    if not host or "$" in rest.split("/")[0] or not (host == "localhost" or "." in host or ":" in host):
        return f"{scheme}://***"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}{f':{port}' if port else ''}/***"


def valid_url(url: str) -> bool:
    """Whether Apprise can parse `url` (with unset `${NAME}`s replaced by a placeholder)."""
    apprise = _apprise()
    try:
        return bool(apprise.Apprise().add(expand(url, placeholder=PLACEHOLDER)))
    except Exception:  # noqa: BLE001 - a plugin that chokes on the URL: not a valid one
        return False


def should_notify(notify_on: str, changes, failed: bool) -> bool:
    if notify_on == "never":
        return False
    if failed or notify_on == "always":
        return True
    return bool(changes is not None and (changes.entered or changes.left))


def report_link(published, out_dir: Path, base_url: str | None) -> str | None:
    """The run's report: its dated export in the most readable format written (html first), as
    `base_url` + its path under the output folder, or else the local path."""
    paths = [Path(f).resolve() for f in getattr(published, "files", ())]
    dated = [p for p in paths if not p.name.startswith("latest.")] or paths
    if not dated:
        return None
    rank = {ext: i for i, ext in enumerate(_REPORT_ORDER)}
    best = min(dated, key=lambda p: rank.get(p.suffix.lstrip("."), len(rank)))
    if base_url:
        try:
            rel = best.relative_to(Path(out_dir).resolve())
        except ValueError:
            return str(best)
        return base_url.rstrip("/") + "/" + quote(rel.as_posix())
    return str(best)


def _person(item: dict) -> str:
    name = item.get("name")
    who = f"{item.get('symbol')} {name}" if name else str(item.get("symbol"))
    return f"{who}: {item['reason']}" if item.get("reason") else who


def compose(rule: str, as_of, *, changes=None, warnings=(), link: str | None = None, error: str | None = None,
            job: str | None = None, limit: int = MAX_CHARS) -> Message:
    """One rule's message: what entered and left (with reasons), stale-data warnings, the report
    link, or the error. The body is at most `limit` characters: item lines stop early with
    "... and N more"; the header and the link always stay."""
    where = f" ({job})" if job else ""
    if error is not None:
        title = f"{rule}{where} as of {as_of}: FAILED"
        head = [f"rule {rule} as of {as_of} failed:"]
        items = [line for line in str(error).splitlines() if line.strip()]
    else:
        entered = list(changes.entered) if changes is not None else []
        left = list(changes.left) if changes is not None else []
        if changes is None:
            summary = "no earlier run to compare with"
        else:
            summary = f"{len(entered)} entered, {len(left)} left"
        title = f"{rule}{where} as of {as_of}: {summary}"
        head = [f"rule {rule} as of {as_of}: {summary}"]
        items = [f"+ {_person(e)}" for e in entered] + [f"- {_person(e)}" for e in left]
    items += [f"! {w}" for w in warnings]
    tail = [f"report: {link}"] if link else []
    # names, reasons and errors come from inputs: control characters shown escaped, one line each
    from screener.outputs.safe import printable

    head, items, tail = ([printable(x, one_line=True) for x in part] for part in (head, items, tail))
    return Message(printable(title, one_line=True)[:200], _capped(head, items, tail, limit))


def _capped(head: list[str], items: list[str], tail: list[str], limit: int) -> str:
    body = "\n".join(head + items + tail)
    if len(body) <= limit:
        return body
    fixed = len("\n".join(head + tail)) + 1
    kept: list[str] = []
    used = fixed
    for i, line in enumerate(items):
        more = f"... and {len(items) - i - 1} more"
        if used + len(line) + 1 + len(more) + 1 > limit:
            break
        kept.append(line)
        used += len(line) + 1
    more = f"... and {len(items) - len(kept)} more"
    return "\n".join(head + kept + [more] + tail)[: max(limit, 0)]


def with_timeouts(url: str) -> str:
    """`url` with Apprise's connect and read timeouts unless it sets them."""
    query = urlsplit(url).query if "://" in url else ""
    keys = {q.split("=", 1)[0].lower() for q in query.split("&") if q}
    extra = [f"{k}={v}" for k, v in (("cto", CONNECT_TIMEOUT), ("rto", READ_TIMEOUT)) if k not in keys]
    if not extra:
        return url
    base, hash_, frag = url.partition("#")
    return base + ("&" if "?" in base else "?") + "&".join(extra) + hash_ + frag


def send(urls, message: Message, env=None) -> list[Delivery]:
    """Send `message` to each target on its own (one failure never hides another). Never raises."""
    out = []
    for url in urls:
        shown = redact(url)
        try:
            target = with_timeouts(expand(url, env))
        except MissingVariable as e:
            out.append(Delivery(shown, False, str(e)))
            continue
        try:
            apprise = _apprise()
            a = apprise.Apprise()
            if not a.add(target):
                out.append(Delivery(shown, False, "not a valid Apprise URL"))
                continue
            ok = bool(a.notify(title=message.title, body=message.body, body_format=apprise.NotifyFormat.TEXT))
            out.append(Delivery(shown, ok, None if ok else "delivery failed (target unreachable or refused it)"))
        except Exception as e:  # noqa: BLE001 - a notification must never fail the run
            out.append(Delivery(shown, False, f"{type(e).__name__}"))
    return out


def _apprise():
    """Apprise, imported on first use, with its own log lines silenced: they quote whole URLs
    (tokens included); ours say the same, redacted."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
    return apprise
