"""Terminal output with rich: the ranked table, explanations, universes. Payload on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text


MAX_ROWS_SHOWN = 100  # a terminal is for reading; exports carry every row
_RATIO_FIELDS = {"eps_growth_fy1", "eps_growth_fy2", "revision_1m", "revision_3m", "return_1m", "return_3m",
                 "return_6m", "return_12m", "revenue_growth_fy1", "net_profit_growth_fy1"}
_AMOUNT_FIELDS = {"market_cap", "revenue_fy1", "net_profit_fy1", "amount_avg_1m"}


def _console() -> Console:
    import sys

    # a pipe or file gets every column in full; a terminal gets its own width
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 240)


def fmt(field: str, v) -> str:
    """A field value as an analyst reads it: ratios in %, money with separators, '—' for null."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if field in _RATIO_FIELDS:
            return f"{v * 100:+.1f}%"
        if field in _AMOUNT_FIELDS:
            return _compact(v)
        if field.startswith(("pe_", "peg_", "ps_")):
            return f"{v:.1f}"
        if field.startswith("eps_"):
            return f"{v:.3f}"
        if field in ("analysts",):
            return f"{v:.0f}"
        return f"{v:.2f}" if abs(v) < 1e6 else _compact(v)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _rank(v) -> str:
    """A rank as text; "—" for a pinned row without one (never "0" or "None")."""
    return "—" if v is None else str(v)


def _num(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def _compact(v: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:,.0f}"


_NORM_LABEL = {"rank": "pct", "zscore": "z", "minmax": "0-1"}


def _cell(f: str, r: dict) -> str:
    v = r[f]
    if f == "esg_rating" and v is not None:
        return str(v)
    if f == "close" and v is not None:
        return f"{v:,.2f} {r['currency'] or ''}".strip()
    if f == "market_cap" and v is not None:
        return f"{_compact(v)} {r['currency'] or ''}".strip()
    return fmt(f, v)


def terminal_fields(result) -> list[str]:
    """Fields the filters read, then the rule's `[output] columns`, its `per` field, then the key
    fields, each once; score inputs show as components."""
    from screener.engine.screen import KEY_FIELDS

    screen = result.screen
    per = getattr(screen, "per", None)
    out = []
    for f in ([x for flt in screen.filters for x in flt.fields] + list(getattr(screen, "columns", ()))
              + ([per] if per else []) + list(KEY_FIELDS)):
        if f not in out and f not in ("symbol", "name", "themes"):
            out.append(f)
    return out


def _title(result) -> str:
    """"ESG compute leaders · as of 2026-11-26 · 10 of 22 members (top 10 of 19 passing, 1 pinned)"."""
    screen = result.screen
    inc = result.included
    passed = result.passers
    pinned = int(inc["pinned"].sum())
    title = f"{screen.name} · as of {result.as_of} · {inc.height} of {result.frame.height} members"
    notes = []
    if screen.top is not None and passed > inc.height - pinned:
        per = getattr(screen, "per", None)
        notes.append(f"top {screen.top}{f' per {per}' if per else ''} of {passed} passing")
    if pinned:
        notes.append(f"{pinned} pinned")
    return title + (f" ({', '.join(notes)})" if notes else "")


def print_result(result, published=None) -> None:
    from screener.outputs.report import exclusion_counts

    import polars as pl

    from screener.outputs.report import previous_note, reason_shown, shows_reason

    con = _console()
    screen = result.screen
    inc = result.included
    passed = result.passers
    per = getattr(screen, "per", None)
    reasons = {}
    if shows_reason(screen):
        why = result.verdicts.filter(pl.col("included"))
        reasons = dict(zip(why["symbol"].to_list(), why["reason"].to_list()))
    table = Table(title=_title(result), title_justify="left")
    table.add_column("#", justify="right")
    if per:
        table.add_column(f"# in\n{per}", justify="right")
    table.add_column("symbol", no_wrap=True)
    table.add_column("name", no_wrap=True)
    multi = len(screen.universes) > 1
    if multi:
        table.add_column("themes")
    table.add_column("score", justify="right")
    for s in screen.scores:  # components: name over how it was normalised
        table.add_column(f"{s.name}\n({_NORM_LABEL[s.normalize]})", justify="right", style="cyan")
    fields = terminal_fields(result)
    for f in fields:
        table.add_column(f, justify="right")
    if reasons:
        table.add_column("why in")
    for r in inc.head(MAX_ROWS_SHOWN).iter_rows(named=True):
        cells = [_rank(r["rank"])]
        if per:
            cells.append(_rank(r["group_rank"]))
        cells += [r["symbol"], r["name"]]
        if multi:
            cells.append(", ".join(r["themes"]))
        cells.append("—" if r["score"] is None else f"{r['score']:.3f}")
        cells += [("—" if r[result.norm_col(i)] is None else f"{r[result.norm_col(i)]:.2f}") for i in range(len(screen.scores))]
        cells += [_cell(f, r) for f in fields]
        if reasons:
            cells.append(Text(reason_shown(reasons.get(r["symbol"]), r["pinned"])))
        table.add_row(*cells)
    con.print(table)
    if inc.height > MAX_ROWS_SHOWN:
        con.print(f"… and {inc.height - MAX_ROWS_SHOWN} more: the exports hold every row (set [output] top to shorten the list)")
    if inc.height == 0:
        con.print("No security passed every filter. `screener explain RULE SYMBOL` shows why one is out.")
    counts = exclusion_counts(result)
    if counts:
        con.print("Excluded: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "  (screener explain RULE SYMBOL for one)")
    if screen.scores:
        weights = ", ".join(f"{s.name} {w:.0%}" + (f" (within {s.within})" if getattr(s, "within", None) else "")
                            for s, w in zip(screen.scores, screen.weights))
        con.print(f"Score = weighted components normalised over the {passed} passers: {weights}")
    note = previous_note(result)
    if note:
        con.print(f"{note} (keep {screen.keep})")
    if result.snapshot.notice:
        con.print(Text(f"⚠ {result.snapshot.notice}", style="bold yellow"))
    if published is None:
        return
    if published.changes is not None and not published.changes.empty:
        c = published.changes
        con.print(f"Since run {c.before.run_id} ({c.before.as_of}): {len(c.entered)} entered, {len(c.left)} left, "
                  f"{len(c.moved)} moved  (screener history {result.screen.stem} --diff)")
    if published.run_id is not None:
        same = f"; identical inputs to run {published.identical_to}" if published.identical_to else ""
        con.print(f"recorded as run {published.run_id}{same}")
    for p in published.files:
        con.print(f"wrote {p}")


def _explained_previous(ex) -> str | None:
    """The previous-watchlist line of a buffered rule's explanation, in the words of every other
    output (`screener.outputs.export.previous_note`); None without `keep`."""
    from datetime import date
    from types import SimpleNamespace

    from screener.engine.screen import Previous
    from screener.outputs.report import previous_note

    keep = getattr(ex, "keep", None)
    if keep is None:
        return None
    p = ex.previous
    previous = None if p is None else Previous(date.fromisoformat(p["as_of"]), frozenset(), p["run_id"])
    return previous_note(SimpleNamespace(screen=SimpleNamespace(keep=keep), previous=previous))


def _component_options(c: dict) -> str:
    """"  [within industry · missing mean · winsorize 0.05]" for the options a component sets;
    `missing` shows when it is not the default "worst", or when this security's value is missing."""
    opts = []
    if c.get("within"):
        opts.append(f"within {c['within']}")
    missing = c.get("missing") or "worst"
    if missing != "worst" or (c.get("raw") is None and c.get("contribution") is not None):
        opts.append(f"missing {missing}")
    if c.get("winsorize") is not None:
        opts.append(f"winsorize {c['winsorize']:g}")
    return f"  [{' · '.join(opts)}]" if opts else ""


def print_explanation(ex) -> None:
    from screener.outputs.report import PIN_MARK

    con = _console()
    status = "IN" if ex.included else "OUT"
    if ex.pinned:
        status += f" ({PIN_MARK} pinned)"
    con.print(Text(f"{ex.symbol} {ex.name} · {ex.rule_name} · as of {ex.as_of}: {status}",
                   style="bold green" if ex.included else "bold red"))
    con.print(Text(f"  {ex.reason}"))
    con.print(Text(f"  themes: {', '.join(ex.themes)}"))
    per = getattr(ex, "per", None)
    if per:
        con.print(Text(f"  {per}: {getattr(ex, 'group', None) or '(none)'}"))
    previous = _explained_previous(ex)
    if previous:
        con.print(f"  {previous} (keep {ex.keep})")
    if ex.filters:
        t = Table(title="filters (all must pass; a missing value fails)", title_justify="left")
        for c in ("filter", "expression", "values", "verdict"):
            t.add_column(c)
        for f in ex.filters:
            values = ", ".join(f"{k} = {fmt(k, v)}" for k, v in f["values"].items())
            style = {"pass": "green", "fail": "red", "missing": "yellow"}[f["verdict"]]
            verdict = f["verdict"] + (f" ({', '.join(f['missing'])} missing)" if f["missing"] else "")
            t.add_row(Text(f["name"]), Text(f["expr"]), Text(values), Text(verdict, style=style))
        con.print(t)
    if ex.components:
        t = Table(title="score components (normalised over the securities that passed)", title_justify="left")
        for c in ("component", "expression", "raw", "normalised", "weight", "contribution"):
            t.add_column(c, justify="right" if c not in ("component", "expression") else "left")
        for c in ex.components:
            expr = c["expr"] + ("" if c["higher_is_better"] else "  (lower is better)") + \
                ("" if c["normalize"] == "rank" else f"  [{c['normalize']}]") + _component_options(c)
            t.add_row(Text(c["name"]), Text(expr), _num(c["raw"]), _num(c["normalized"]), f"{c['weight']:.1%}",
                      _num(c["contribution"]))
        con.print(t)
        if ex.score is not None:
            where = ""
            if per and ex.group_rank is not None:
                where = f"; {ex.group_rank} in {per} {getattr(ex, 'group', None) or '(none)'}"
            con.print(f"  score {ex.score:.4f}, rank {ex.rank} of {ex.passers} passing{where}")
        elif ex.pinned:
            con.print("  no score (it fails a filter): the pin lists it after the scored rows, without a rank")
    for n in ex.notes:
        con.print(f"  note: {n}")
    if ex.notice:
        con.print(Text(f"⚠ {ex.notice}", style="bold yellow"))


def print_universe_summary(rows: list[dict]) -> None:
    t = Table(title="universes", title_justify="left")
    for c in ("universe", "members", "listed", "unlisted", "file"):
        t.add_column(c, justify="right" if c in ("members", "listed", "unlisted") else "left")
    for r in rows:
        t.add_row(r["universe"], str(r["members"]), str(r["listed"]), str(r["unlisted"]), r["file"])
    _console().print(t)


def print_universe(name: str, table) -> None:
    t = Table(title=f"{name} · {table.height} members", title_justify="left")
    for c in ("symbol", "name", "name_en", "exposure", "listed", "esg_rating", "note"):
        t.add_column(c)
    for r in table.iter_rows(named=True):
        t.add_row(r["symbol"], r["name"], r["name_en"] or "", r["exposure"], "yes" if r["listed"] else "no",
                  r["esg_rating"] or "—", (r["note"] or "")[:60])
    _console().print(t)


def print_runs(rule: str, runs) -> None:
    con = _console()
    if not runs:
        con.print(f"no recorded runs of {rule} yet: `screener run {rule}` records one")
        return
    t = Table(title=f"runs of {runs[-1].rule_name} ({rule})", title_justify="left")
    for c in ("run", "as_of", "generated_at", "rule sha256", "data", "passed", "included", "note"):
        t.add_column(c, justify="right" if c in ("run", "passed", "included") else "left")
    for r in runs:
        note = f"identical inputs to run {r.identical_to}" if r.identical_to else ""
        t.add_row(str(r.run_id), r.as_of, r.generated_at, r.rule_sha256[:10], r.data_fingerprint[:10],
                  str(r.passed), str(r.included), note)
    con.print(t)


def print_changes(rule: str, changes) -> None:
    con = _console()
    if changes.after is None:
        con.print(f"no recorded runs of {rule} yet")
        return
    if changes.before is None:
        con.print(f"run {changes.after.run_id} is the first recorded run of {rule}: nothing to compare with")
        return
    con.print(f"run {changes.before.run_id} ({changes.before.as_of}) -> run {changes.after.run_id} ({changes.after.as_of})")
    if changes.empty:
        con.print("no change: the same securities in the same order")
    for title, rows, style in (("entered", changes.entered, "green"), ("left", changes.left, "red")):
        if rows:
            t = Table(title=title, title_justify="left", title_style=style)
            for c in ("symbol", "name", "rank", "reason"):
                t.add_column(c)
            for r in rows:
                rank = r.get("rank") if title == "entered" else r.get("from_rank")
                # a pinned entrant that fails a filter has no rank: "—"; reasons are the engine's
                # words and may quote a pin's reason, so they are plain text, never rich markup
                t.add_row(r["symbol"], Text(r["name"] or ""), _rank(rank), Text(r["reason"] or ""))
            con.print(t)
    if changes.moved:
        t = Table(title="moved", title_justify="left")
        for c in ("symbol", "name", "from", "to", "score"):
            t.add_column(c)
        for r in changes.moved:
            arrow = "▲" if r["change"] > 0 else "▼"
            t.add_row(r["symbol"], Text(r["name"] or ""), str(r["from_rank"]),
                      f"{r['to_rank']} {arrow}{abs(r['change'])}", f"{_num(r['from_score'])} -> {_num(r['to_score'])}")
        con.print(t)


def print_schedule(listing: list[dict], start) -> None:
    con = _console()
    if not listing:
        con.print("no [[jobs]] in the config")
        return
    for j in listing:
        where = f"{j['cron']} · {j['calendar'] or 'every day'} · {j['timezone']}"
        con.print(Text(f"{j['job']}  ({where})" + ("" if j["enabled"] else "  [disabled]"), style="bold"))
        if not j["next_runs"]:
            con.print("  no run ahead" if j["enabled"] else "  disabled: never runs")
        for r in j["next_runs"]:
            mark = "  (provisional: rule-based holiday calendar)" if r in j["provisional"] else ""
            con.print(f"  {r}{mark}")
    con.print(f"(from {start.isoformat()})")


def print_status(data: dict, path: str) -> None:
    con = _console()
    jobs = data.get("jobs", {})
    daemon = data.get("daemon", {})
    if not jobs and not daemon:
        con.print(f"no status yet ({path}): the daemon has not run")
        return
    if daemon:
        con.print(f"daemon pid {daemon.get('pid')} started {daemon.get('started_at')}, "
                  f"heartbeat {daemon.get('heartbeat', '—')}" + (f", stopped {daemon['stopped_at']}" if daemon.get("stopped_at") else ""))
    t = Table(title=f"jobs ({path})", title_justify="left")
    for c in ("job", "last run", "outcome", "rows", "last success", "next run", "last error"):
        t.add_column(c)
    for name, j in sorted(jobs.items()):
        t.add_row(name, j.get("last_slot") or "—", j.get("last_outcome") or "—", str(j.get("last_rows", "—")),
                  j.get("last_success") or "—", j.get("next_run") or "—", (j.get("last_error") or "")[:80])
    con.print(t)
