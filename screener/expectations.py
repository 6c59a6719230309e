"""`screener test`: the `[[expect]]` cases of rule files, evaluated on the configured data.

Each rule is screened once per distinct `as_of` among its expectations (several cases on one
date share one screen), buffered against P from the configured history when the rule has
`keep`; nothing is written. A case holds when the security's verdict matches:

- `in_watchlist = true/false`: it is (not) in the watchlist as of that date;
- `rank_at_most = N`: its overall `rank` (among all passers) is N or better.

A failure is worded with the file and line of the case, what was expected and what is, with
the engine's reason: `rules/x.toml:31: expected 000977.SZ in the watchlist as of 2026-11-20, but
it is not (rank 14: rank 14, below top 10)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from screener.config import Config


@dataclass(frozen=True)
class Outcome:
    """One `[[expect]]` case and what the screen said. `failures` is empty when it holds."""

    path: str
    line: int
    rule: str
    as_of: date
    symbol: str
    in_watchlist: bool | None
    rank_at_most: int | None
    member: bool  # in the rule's universes as of the date
    included: bool
    rank: int | None
    reason: str | None
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        """`path:line: message`, one per failed condition."""
        return [f"{self.path}:{self.line}: {message}" for message in self.failures]

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "rule": self.rule, "as_of": self.as_of.isoformat(),
                "symbol": self.symbol, "ok": self.ok,
                "expected": {"in_watchlist": self.in_watchlist, "rank_at_most": self.rank_at_most},
                "actual": {"member": self.member, "in_watchlist": self.included, "rank": self.rank,
                           "reason": self.reason},
                "failures": list(self.failures)}


@dataclass(frozen=True)
class Report:
    """Every case of the rules checked, in file and line order."""

    files: tuple[str, ...]
    outcomes: tuple[Outcome, ...] = field(default=())

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """"no expectations in rules/a.toml", "3 expectations hold (rules/a.toml)" or "1 of 3
        expectations failed"."""
        n = len(self.outcomes)
        if n == 0:
            return f"no expectations in {', '.join(self.files) or 'no rule files'}"
        if self.ok:
            files = sorted({o.path for o in self.outcomes})
            return f"{n} expectation{'s hold' if n != 1 else ' holds'} ({', '.join(files)})"
        return f"{len(self.failed)} of {n} expectation{'s' if n != 1 else ''} failed"

    def to_dict(self) -> dict:
        return {"ok": self.ok, "files": list(self.files), "total": len(self.outcomes), "failed": len(self.failed),
                "expectations": [o.to_dict() for o in self.outcomes]}


def evaluate(config: Config, screens: list, files: list[str] | None = None, snapshot=None) -> Report:
    """Check every expectation of `screens`; `files` names what was read (for "no expectations in").
    Raises `InputError` on bad data."""
    from screener.data.snapshot import load_snapshot
    from screener.outputs.history import History
    from screener.pipeline import screen_as_of

    history = History(config.out_dir)
    outcomes = []
    for screen in screens:
        expects = tuple(getattr(screen, "expects", ()) or ())
        if not expects:
            continue
        snapshot = snapshot or load_snapshot(config.data_dir, config.display)
        for day in sorted({e.as_of for e in expects}):
            result = screen_as_of(config, screen, day, snapshot, history)
            verdicts = {r["symbol"]: r for r in result.verdicts.select("symbol", "included", "rank", "reason").to_dicts()}
            for e in (e for e in expects if e.as_of == day):
                outcomes.append(_check(screen, e, verdicts.get(e.symbol)))
    outcomes.sort(key=lambda o: (o.path, o.line))
    return Report(tuple(files if files is not None else [s.path for s in screens]), tuple(outcomes))


def _check(screen, e, verdict: dict | None) -> Outcome:
    member = verdict is not None
    included = bool(verdict and verdict["included"])
    rank = verdict["rank"] if verdict else None
    reason = verdict["reason"] if verdict else None
    actual = _actual(e, verdict)
    failures = []
    if e.in_watchlist is True and not included:
        failures.append(f"expected {e.symbol} in the watchlist as of {e.as_of}, but it is not ({actual})")
    if e.in_watchlist is False and included:
        failures.append(f"expected {e.symbol} not in the watchlist as of {e.as_of}, but it is ({actual})")
    if e.rank_at_most is not None and (rank is None or rank > e.rank_at_most):
        where = f"at rank {rank}" if rank is not None else "unranked"
        failures.append(f"expected {e.symbol} at rank {e.rank_at_most} or better as of {e.as_of}, but it is "
                        f"{where} ({actual})")
    return Outcome(screen.path, e.line, screen.name, e.as_of, e.symbol, e.in_watchlist, e.rank_at_most, member,
                   included, rank, reason, tuple(failures))


def _actual(e, verdict: dict | None) -> str:
    """What the screen says of the security: "rank 14: rank 14, below top 10", "rank 3",
    "failed growing", "not a member of the rule's universes as of 2026-11-20"."""
    if verdict is None:
        return f"not a member of the rule's universes as of {e.as_of}"
    parts = [f"rank {verdict['rank']}"] if verdict["rank"] is not None else []
    if verdict["reason"]:
        parts.append(verdict["reason"])
    return ": ".join(parts) or "in the watchlist"
