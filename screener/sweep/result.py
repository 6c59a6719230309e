"""What a sweep returns: the base rule's backtest and each variant's, with DESIGN.md's JSON shape
(`{"base", "variants": [{"variant", "summary", "components", "overlap_mean"}]}`).

`overlap_mean`: the mean over the rebalance dates (the periods' dates) of |W_variant ∩ W_base| /
|W_base|, W the watchlists at that date; a date where the base watchlist is empty is left out
(null when every date is). `rank`: the variant's place by the `--by` summary figure (1 = best;
nulls last; ties by variant order). Higher is better for every figure but `turnover_mean` and
`null_periods`; `max_drawdown` is negative, so higher (nearer 0) is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from screener.sweep.spec import jsonable

#: summary figures where lower is better
LOWER_IS_BETTER = ("turnover_mean", "null_periods")


def overlap_mean(variant_members: list[list[str]], base_members: list[list[str]]) -> float | None:
    shares = []
    for w, b in zip(variant_members, base_members):
        if b:
            base = set(b)
            shares.append(sum(1 for s in set(w) if s in base) / len(base))
    return sum(shares) / len(shares) if shares else None


def ranks(values: list, lower_is_better: bool) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: (values[i] is None,
                                                      0 if values[i] is None else (values[i] if lower_is_better else -values[i]),
                                                      i))
    out = [0] * len(values)
    for place, i in enumerate(order, 1):
        out[i] = place
    return out


def members(out: dict) -> list[list[str]]:
    return [p["members"] for p in out["periods"]]


@dataclass
class SweepResult:
    rule: str
    rule_name: str
    keys: tuple[str, ...]
    start: date | None
    end: date | None
    every: str | None
    dates: tuple[date, ...]
    by: str
    base: dict                  # the base rule's `run_variant` output
    variants: list              # [(Variant, run_variant output)] in variant order
    settings: tuple = ()

    def overlaps(self) -> list[float | None]:
        b = members(self.base)
        return [overlap_mean(members(out), b) for _, out in self.variants]

    def ranks(self) -> list[int]:
        return ranks([out["summary"].get(self.by) for _, out in self.variants], self.by in LOWER_IS_BETTER)

    def to_dict(self) -> dict:
        overlaps, places = self.overlaps(), self.ranks()
        base = self.base
        return {
            "rule": self.rule,
            "rule_name": self.rule_name,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "every": self.every,
            "dates": [d.isoformat() for d in self.dates],
            "keys": list(self.keys),
            "by": self.by,
            "base": {"rule": self.rule, "variant": {}, "summary": base["summary"], "components": base["components"],
                     "overlap_mean": 1.0 if any(members(base)) else None},
            "variants": [{"variant": jsonable(v.values), "summary": out["summary"], "components": out["components"],
                          "overlap_mean": o, "rank": r}
                         for (v, out), o, r in zip(self.variants, overlaps, places)],
            "membership_dates": base.get("membership_dates"),
            "sample": base.get("sample"),
            "notices": base.get("notices", []),
            "data": base.get("data", {}),
        }
