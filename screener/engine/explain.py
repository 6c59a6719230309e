"""Why one security is in or out of a screen: each filter's inputs and verdict, each score
component raw and normalised, the rank, and notes on missing data (FX, unlisted, fiscal years)."""

from __future__ import annotations

from dataclasses import dataclass

from screener.engine.screen import ScreenResult
from screener.engine.values import plain


@dataclass(frozen=True)
class Explanation:
    rule: str
    rule_name: str
    as_of: str
    symbol: str
    name: str
    themes: list
    included: bool
    rank: int | None
    group_rank: int | None
    pinned: bool
    passers: int
    score: float | None
    reason: str
    filters: list
    components: list
    notes: list
    notice: str | None
    previous: dict | None  # the watchlist a buffer compared against: {"run_id", "as_of"}; None = plain top
    per: str | None = None  # the rule's `per` field (group_rank counts within its groups)
    group: str | None = None  # this security's value of `per` (None: the null group, or no `per`)
    keep: int | None = None  # the rule's `keep` buffer (None: no buffer, so `previous` means nothing)
    pin_reason: str | None = None  # the reason of the pin on this security (include or exclude)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def explain_row(result: ScreenResult, symbol: str) -> Explanation:
    row = result.frame.filter(result.frame["symbol"] == symbol).row(0, named=True)
    screen = result.screen
    filters = []
    for i, f in enumerate(screen.filters):
        verdict = row[result.filter_col(i)]
        values = {name: plain(row.get(name)) for name in f.fields}
        missing = [n for n, v in values.items() if v is None]
        filters.append({
            "name": f.name, "expr": f.source,
            "verdict": "missing" if verdict is None else ("pass" if verdict else "fail"),
            "values": values, "missing": missing,
        })
    components = []
    # weights are rescaled over the components present (only `missing = "drop"` leaves one out)
    present = sum(s.weight for i, s in enumerate(screen.scores) if row[result.norm_col(i)] is not None)
    for i, (s, w) in enumerate(zip(screen.scores, screen.weights)):
        norm = row[result.norm_col(i)]
        raw = row[result.raw_col(i)]
        components.append({
            "name": s.name, "expr": s.source, "raw": plain(raw), "normalized": plain(norm),
            "normalize": s.normalize, "higher_is_better": s.higher_is_better, "weight": round(w, 6),
            "within": s.within, "missing": s.missing,
            "winsorize": s.winsorize,
            "contribution": None if not row["_passed"] else (
                0.0 if norm is None or not present else round(s.weight / present * norm, 6)),
            "values": {name: plain(row.get(name)) for name in s.fields},
        })
    failed = [f["name"] for f in filters if f["verdict"] != "pass"]
    passers = result.passers
    verdict = result.verdicts.row(result.verdicts["symbol"].index_of(symbol), named=True)
    if verdict["pinned"] or "pin" in verdict["failed"]:
        reason = verdict["reason"]
    elif not row["listed"]:
        reason = "unlisted: unlisted companies stay in the universe as a pre-IPO watch but are never scored"
    elif failed:
        parts = [f"{f['name']} ({'missing ' + ', '.join(f['missing']) if f['verdict'] == 'missing' else 'false'})"
                 for f in filters if f["verdict"] != "pass"]
        reason = "failed: " + "; ".join(parts)
    elif not row["_included"]:
        reason = f"passed every filter but {verdict['reason']} ({passers} passers)"
    elif verdict["kept"]:
        reason = f"passed every filter; {verdict['reason']}; rank {row['rank']} of {passers}"
    else:
        reason = f"passed every filter; rank {row['rank']} of {passers}"
    return Explanation(
        rule=screen.path, rule_name=screen.name, as_of=result.as_of.isoformat(), symbol=symbol, name=row["name"],
        themes=list(row["themes"]), included=bool(row["_included"]), rank=row["rank"],
        group_rank=row["group_rank"], pinned=bool(row["pinned"]), passers=passers,
        score=plain(row["score"]), reason=reason, filters=filters, components=components,
        notes=_notes(row, result), notice=result.snapshot.notice,
        previous=({"run_id": result.previous.run_id, "as_of": result.previous.as_of.isoformat()}
                  if result.previous is not None else None),
        per=screen.per,
        group=(None if not screen.per or row.get(screen.per) is None else str(row[screen.per])),
        keep=screen.keep, pin_reason=row["pin_reason"],
    )


def _notes(row: dict, result: ScreenResult) -> list[str]:
    notes = []
    if row.get("_fx_missing"):
        notes.append(f"no FX rate {row['eps_currency']}->{row['currency']} as of {result.as_of}: "
                     "pe_fy1, pe_fy2 and peg_fy1 are null (add the pair to fx.csv)")
    elif row.get("eps_currency") and row.get("currency") and row["eps_currency"] != row["currency"]:
        notes.append(f"EPS reported in {row['eps_currency']}, converted at {row['fx_rate']:.4f} "
                     f"{row['currency']} per {row['eps_currency']} for valuation")
    if row.get("fy0_year") is not None or row.get("fy1_year") is not None:
        notes.append(f"fiscal years: fy0 = FY{row.get('fy0_year') or '?'} (reported), fy1 = FY{row.get('fy1_year') or '?'}, "
                     f"fy2 = FY{row.get('fy2_year') or '?'} (consensus as of {row.get('consensus_as_of') or 'n/a'})")
    elif row["listed"]:
        notes.append(f"no consensus rows as of {result.as_of}: earnings fields are null")
    for year, eps in (("fy0", row.get("eps_fy0")), ("fy1", row.get("eps_fy1"))):
        if eps is not None and eps <= 0:
            nxt = "fy1" if year == "fy0" else "fy2"
            notes.append(f"eps_{year} is {eps:.4f} (not positive): eps_growth_{nxt} is null"
                         + (", and so are pe_fy1 and peg_fy1" if year == "fy1" else ""))
    if row["listed"] and row.get("close") is None:
        notes.append(f"no price as of {result.as_of}: close and valuation fields are null")
    if row.get("esg_rating") is not None:
        notes.append(f"ESG {row['esg_rating_raw']} by {row['esg_rater']} as of {row['esg_as_of']} (esg_score {row['esg_score']:g})")
    return notes
