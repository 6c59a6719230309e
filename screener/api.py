"""The library behind every command: check rules, run screens, explain, list universes, check data.

Each function takes a `Config`, does one job and returns plain results; it never prints or
exits. Bad input raises `InputError` carrying every problem found.
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from screener.config import Config
from screener.problems import InputError, Problem, suggestion
from screener.rules.rule import Screen, load_rule


def today(config: Config) -> date:
    """Today's date in the configured timezone (the default `--as-of`)."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(config.timezone)).date()


def default_as_of(config: Config) -> tuple[date, str | None]:
    """The date `run`, `explain` (and the library's screens) use when none is given, and a note
    saying so, or None.

    On a snapshot whose `snapshot.toml` says `sample = true`, the newest `as_of` in its prices
    (so the README's first command works on any later day without stale-data warnings); on any
    other snapshot, today in the configured timezone (`today`). The scheduler always uses the
    local date. A sample snapshot whose prices cannot be read falls back to today: the run then
    reports the problem itself."""
    from screener.data.snapshot import load_checked, read_label, snapshot_files

    folder = config.data_dir
    try:
        sample, _ = read_label(folder, config.display) if folder.is_dir() else (False, None)
        path = snapshot_files(folder).get("prices") if sample else None
        newest = load_checked("prices", path, config.display(path)).select("as_of").max().collect().item() \
            if path is not None else None
    except InputError:
        newest = None
    if newest is None:
        return today(config), None
    return newest, (f"as of {newest.isoformat()}, the newest date in the sample snapshot "
                    "(pass --as-of to choose)")


def rule_paths(config: Config, args: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Rule files named by the user (paths, or names of files in rules/); all of rules/ when none."""
    if not args:
        if not config.rules_dir.is_dir():
            raise InputError([Problem("no-folder", f"no rules folder at {config.display(config.rules_dir)}",
                                      hint="create it, or set paths.rules in config.toml")])
        return sorted(config.rules_dir.glob("*.toml"))
    out = []
    for a in args:
        p = Path(a)
        if not p.exists() and p.suffix != ".toml" and (config.rules_dir / f"{a}.toml").exists():
            p = config.rules_dir / f"{a}.toml"  # a name in rules/, dots and all (`history.sqlite`)
        if not os.path.lexists(p):  # a dangling symlink or a loop is there: load_rule names what it is
            known = [q.stem for q in config.rules_dir.glob("*.toml")] if config.rules_dir.is_dir() else []
            hint = suggestion(Path(a).stem, known, "rule") if known else "see the rules/ folder"
            raise InputError([Problem("no-file", "rule file not found", str(a), hint=hint)])
        out.append(p)
    return out


def known_universes(config: Config) -> list[str]:
    return config.universe_names()


@dataclass(frozen=True)
class RuleCheck:
    path: str
    screen: Screen | None
    problems: tuple[Problem, ...]


def check_rules(config: Config, args: list[str] | tuple[str, ...] = (), as_of: date | None = None) -> list[RuleCheck]:
    """Check rule files without reading any data; every file is checked, every problem kept.

    A rule that loads has `screen` set and its warnings (an expired pin) as `problems`; a rule with
    an error has `screen=None` and every problem. The symbols a rule names are checked against its
    universe files (read only for rules that name a symbol); pin expiry is judged as of `as_of`
    (default: today in the configured timezone).
    """
    known = known_universes(config)
    day = as_of or today(config)
    read: dict[str, frozenset[str] | InputError] = {}

    def symbols(name: str) -> frozenset[str]:
        """The symbols of a universe file, every row whatever its membership window; each file is
        read once, on first use (only rules that name a symbol need it); a bad one raises."""
        if name not in read:
            from screener.data.universe_symbols import universe_symbols

            try:
                read[name] = universe_symbols(config.universes_dir, name, config.display)
            except InputError as e:
                read[name] = e
        if isinstance(read[name], InputError):
            raise read[name]
        return read[name]

    results = []
    for p in rule_paths(config, args):
        shown = config.display(p)
        try:
            screen = load_rule(p, known, shown, universe_symbols=symbols, today=day)
        except InputError as e:
            results.append(RuleCheck(shown, None, e.problems))
        else:
            results.append(RuleCheck(shown, screen, screen.warnings))
    return results


def load_screens(config: Config, args) -> list[Screen]:
    """Load and check the named rules; raises one `InputError` with the problems of all of them
    when any has an error (warnings alone do not stop them: they stay on `Screen.warnings`)."""
    checks = check_rules(config, args)
    problems = [p for c in checks for p in c.problems]
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)
    return [c.screen for c in checks]


def load_data(config: Config, folder: Path | None = None):
    from screener.data.snapshot import load_snapshot

    return load_snapshot(folder or config.data_dir, config.display)


def run(config: Config, screens: list[Screen], as_of: date, snapshot=None, out_dir: Path | None = None):
    """Run each screen as of `as_of` over one snapshot (read once). A rule with `keep` is buffered
    against P from the history in `out_dir` (default: `paths.out`); nothing is written."""
    from screener.outputs.history import History
    from screener.pipeline import screen_as_of

    snapshot = snapshot or load_data(config)
    history = History(Path(out_dir) if out_dir else config.out_dir)
    return [screen_as_of(config, s, as_of, snapshot, history) for s in screens]


def explain(config: Config, screen: Screen, query: str, as_of: date, snapshot=None):
    """Why `query` (a symbol, a bare code, or a name) is in or out of `screen`'s result (buffered
    against P from the history when the rule has `keep`; nothing is written)."""
    from screener.engine.explain import explain_row

    (result,) = run(config, [screen], as_of, snapshot)
    symbol = find_symbol(config, screen, result.frame, query)
    return explain_row(result, symbol)


def find_symbol(config: Config, screen: Screen, frame, query: str) -> str:
    """Resolve what the user typed to a member symbol, or raise with did-you-mean."""
    import polars as pl

    q = query.strip()
    rows = frame.select("symbol", "name", "name_en").to_dicts()
    for pred in (
        lambda r: r["symbol"] == q,
        lambda r: r["symbol"].upper() == q.upper(),
        lambda r: r["symbol"].split(".")[0].upper() == q.upper() or r["symbol"] == f"PRIVATE:{q.lower()}",
        lambda r: r["name"] == q,
        lambda r: (r["name_en"] or "").lower() == q.lower(),
    ):
        hits = [r["symbol"] for r in rows if pred(r)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InputError([Problem("ambiguous-symbol", f"`{q}` matches {', '.join(hits)}", hint="write the full symbol")])
    # in another universe?
    from screener.data.snapshot import load_members

    others = [u for u in known_universes(config) if u not in screen.universes]
    if others:
        try:
            allm = load_members(config.universes_dir, tuple(others), config.display)
        except InputError:
            allm = None  # a broken other universe must not hide the real answer
        if allm is not None:
            m = allm.filter((pl.col("symbol").str.to_uppercase() == q.upper()) | (pl.col("name") == q)
                            | (pl.col("symbol").str.split(".").list.first() == q))
            if m.height:
                r = m.row(0, named=True)
                raise InputError([Problem("not-a-member", f"{r['symbol']} {r['name']} is not in this rule's universes "
                                          f"({', '.join(screen.universes)})", screen.path,
                                          hint=f"it is in: {', '.join(r['themes'])}; add one of them to `universe` in the rule")])
    choices = {r["symbol"]: r["symbol"] for r in rows}
    choices.update({r["name"]: r["symbol"] for r in rows})
    choices.update({(r["name_en"] or r["symbol"]): r["symbol"] for r in rows})
    from screener.problems import did_you_mean

    near = did_you_mean(q, list(choices))
    hint = (f"did you mean `{choices[near]}` ({near})?" if near and choices[near] != near else f"did you mean `{near}`?") if near \
        else "see the members with: screener universes " + " ".join(screen.universes)
    raise InputError([Problem("unknown-symbol", f"no security `{q}` in {', '.join(screen.universes)}", hint=hint)])


def universe_table(config: Config, name: str, as_of: date | None = None):
    """One universe's members as of `as_of` (default today: the rows whose membership window
    covers it) with `esg_rating` where the snapshot knows it."""
    import polars as pl

    from screener.data.snapshot import load_universe, members_on

    known = known_universes(config)
    if name not in known:
        raise InputError([Problem("unknown-universe", f"unknown universe `{name}`",
                                  hint=suggestion(name, known, "universe") if known else "the universes folder is empty")])
    day = as_of or today(config)
    members = members_on(load_universe(config.universes_dir, name, config.display), day)
    ratings = None
    try:
        snap = load_data(config)
        esg = snap.get("esg")
    except InputError:
        esg = None
    if esg is not None:
        from screener.engine.derive import esg_fields

        ratings = esg_fields(esg, day, config.esg_raters).select(
            "symbol", pl.col("esg_rating").cast(pl.String), "esg_rater").collect()
    if ratings is None:
        ratings = pl.DataFrame(schema={"symbol": pl.String, "esg_rating": pl.String, "esg_rater": pl.String})
    return members.join(ratings, on="symbol", how="left").sort("symbol")


def universe_summary(config: Config, as_of: date | None = None) -> list[dict]:
    """Every universe with its member counts as of `as_of` (default today: the rows whose
    membership window covers it); a bad file is reported, not skipped."""
    from screener.data.snapshot import load_universe, members_on

    day = as_of or today(config)
    out, problems = [], []
    for name in known_universes(config):
        try:
            u = members_on(load_universe(config.universes_dir, name, config.display), day)
        except InputError as e:
            problems.extend(e.problems)
            continue
        listed = int(u["listed"].sum())
        out.append({"universe": name, "members": u.height, "listed": listed, "unlisted": u.height - listed,
                    "file": config.display(config.universes_dir / f"{name}.csv")})
    if problems:
        raise InputError(problems)
    return out


def check_data(config: Config, folder: Path | None = None) -> dict[str, list[Problem]]:
    """Every problem in a snapshot folder, and (for the configured folder) in universes and jobs.

    Returns {file shown to the user: problems}; files with no problem map to [].
    """
    from screener.data.snapshot import check_snapshot, read_text_table, snapshot_files
    from screener.data import schemas

    results: dict[str, list[Problem]] = {}
    target = folder or config.data_dir
    problems = check_snapshot(target, config.display)
    for p in problems:
        results.setdefault(p.path or config.display(target), []).append(p)
    for path in snapshot_files(target).values() if target.is_dir() else []:
        results.setdefault(config.display(path), [])
    if folder is None:
        for name in known_universes(config):
            path = config.universes_dir / f"{name}.csv"
            shown = config.display(path)
            try:
                frame = read_text_table(path, shown)
                results[shown] = schemas.validate("universe", frame, shown)
            except InputError as e:
                results[shown] = list(e.problems)
        from screener.schedule.jobs import load_jobs

        shown = config.display(config.path)
        try:
            load_jobs(config)
            results[shown] = []
        except InputError as e:
            results[shown] = list(e.problems)
    return results


def publish(config: Config, screens: list[Screen], as_of: date, formats: list[str] | tuple[str, ...] = (),
            out_dir: Path | None = None, lang: str | None = None, snapshot=None, write: bool = True,
            on_wait=None, clock=None, tz: str | None = None) -> list[Published]:
    """Screen each rule as of `as_of` and publish it: P from the history, the screen, the changes,
    dated exports, the history, `latest.*` (`screener.pipeline.run_and_publish`, the one sequence
    `screener run` and the scheduler share). `write=False` screens only (P read, nothing written).
    Failures to write are in each `Published.error`; bad input raises `InputError`. Times are
    shown in zone `tz` (default: `[schedule] timezone`; a scheduled run passes its job's)."""
    from screener.pipeline import run_and_publish

    return run_and_publish(config, screens, as_of, formats, out_dir=out_dir, lang=lang, snapshot=snapshot,
                           write=write, on_wait=on_wait, clock=clock, tz=tz)


def check_expectations(config: Config, args: list[str] | tuple[str, ...] = ()):
    """Every `[[expect]]` of the named rules (all of rules/ by default) evaluated on the configured
    data, P from the configured history; nothing is written (`screener.expectations`)."""
    from screener.expectations import evaluate

    screens = load_screens(config, args)
    return evaluate(config, screens, [config.display(p) for p in rule_paths(config, args)])


def backtest(config: Config, screens: list[Screen], *, start: date | None = None, end: date | None = None,
             every: str | None = None, dates=None, buckets: int = 5, cost_bps: float | None = None,
             benchmark: str | None = None, pins: bool = False, snapshot=None):
    """Backtest each screen over the same rebalance dates (`screener.backtesting.backtest_rules`);
    one `BacktestResult` per screen. Nothing is written (see `write_backtest`)."""
    from screener.backtesting import backtest_rules

    return backtest_rules(config, screens, start=start, end=end, every=every, dates=dates, buckets=buckets,
                          cost_bps=cost_bps, benchmark=benchmark, pins=pins, snapshot=snapshot)


BACKTEST_FORMATS = ("html", "csv", "json")


def backtest_folder(config: Config, results, out_dir: Path | None = None) -> Path:
    """Where `--format` writes: `--out DIR`, else `<paths.out>/backtests/<rule stems>_<first>_<last>/`."""
    if out_dir is not None:
        return Path(out_dir)
    from screener.outputs.export import rule_folder

    stems = "+".join(Path(r.rule).stem for r in results)
    first, last = results[0].dates[0], results[0].dates[-1]
    return rule_folder(config.out_dir / "backtests", f"{stems}_{first.isoformat()}_{last.isoformat()}")


def write_backtest(config: Config, results, formats, out_dir: Path | None = None, lang: str | None = None) -> list[Path]:
    """Write the backtest outputs, each file atomically, every one rendered before the first is
    written: `backtest.html` (one tear sheet, the rules side by side), `backtest.json` (DESIGN's
    shape: one object, or a list for several rules) and `<rule>.periods.csv` per rule. The tear
    sheet's "generated" time is in `[schedule] timezone`, with its offset."""
    from datetime import timezone

    from screener.atomic import write_bytes
    from screener.outputs.backtest_files import json_bytes, periods_csv
    from screener.times import local

    folder = backtest_folder(config, results, out_dir)
    generated_at = local(datetime.now(timezone.utc), config.timezone).replace(microsecond=0)
    files: list[tuple[Path, bytes]] = []
    if "html" in formats:
        from screener.outputs.tearsheet import render_tearsheet

        files.append((folder / "backtest.html", render_tearsheet(results, lang or config.lang, generated_at)))
    if "json" in formats:
        files.append((folder / "backtest.json", json_bytes(results)))
    if "csv" in formats:
        for r in results:
            files.append((folder / f"{Path(r.rule).stem}.periods.csv", periods_csv(r, config.csv_bom)))
    folder.mkdir(parents=True, exist_ok=True)
    for path, data in files:
        write_bytes(path, data)
    return [path for path, _ in files]


def history_runs(config: Config, rule: str, out_dir: Path | None = None):
    """The recorded runs of a rule (a file path or a name in rules/), oldest first; [] for a
    known rule with no run yet. A rule with neither a recorded run nor a rule file is a mistake:
    `InputError` with did-you-mean (`known_rule`). `generated_at` is shown in `[schedule]
    timezone` with its offset (the history stores UTC; rows of any version parse)."""
    from screener.outputs.history import History

    history = History(Path(out_dir) if out_dir else config.out_dir)
    runs = history.runs(_stem(rule))
    if not runs:
        known_rule(config, rule)
    return [r.in_zone(config.timezone) for r in runs]


def history_diff(config: Config, rule: str, before: int | None = None, after: int | None = None,
                 out_dir: Path | None = None):
    """What entered, left and moved between two runs of a rule (`History.diff`); an unknown rule
    raises like `history_runs`. The two runs' times are shown in `[schedule] timezone`."""
    from screener.outputs.history import History

    history = History(Path(out_dir) if out_dir else config.out_dir)
    if not history.runs(_stem(rule)):
        known_rule(config, rule)
    return history.diff(_stem(rule), before, after).in_zone(config.timezone)


def history_prune(config: Config, rule: str, detail_days: int | None = None, out_dir: Path | None = None):
    """Drop the member files of a rule's runs more than `detail_days` (default: `[history]
    detail_days`) days older than its newest run; watchlists stay (`History.prune`). Neither
    given: `InputError` saying what to set."""
    from screener.outputs.history import History

    days = detail_days if detail_days is not None else config.detail_days
    if days is None:
        raise InputError([Problem("no-retention", "nothing to prune by: no --detail-days and no [history] "
                                  "detail_days in the config", config.display(config.path),
                                  hint="add [history] detail_days = 90 to config.toml (member detail of runs within "
                                  "90 days of the newest is kept), or pass --detail-days 90")])
    history = History(Path(out_dir) if out_dir else config.out_dir)
    if not history.runs(_stem(rule)):
        known_rule(config, rule)
    return history.prune(_stem(rule), days)


def known_rule(config: Config, rule: str) -> None:
    """Raise `InputError` unless `rule` names a rule file: a path that exists or a file in
    rules/ (the history callers ask this only when the rule has no recorded run: a rule whose
    file was deleted keeps its history). The hint is the nearest rule name in rules/."""
    stem = _stem(rule)
    if Path(rule).is_file() or (config.rules_dir / f"{stem}.toml").is_file():
        return
    names = sorted(p.stem for p in config.rules_dir.glob("*.toml")) if config.rules_dir.is_dir() else []
    hint = suggestion(stem, names, "rule") if names else f"no rule files in {config.display(config.rules_dir)}"
    raise InputError([Problem("unknown-rule", f"no rule `{rule}`: no recorded runs and no rule file "
                              f"{config.display(config.rules_dir / f'{stem}.toml')}", hint=hint)])


def _stem(rule: str) -> str:
    """A rule's history key: its file stem (a bare name is the stem itself, dots and all: the rule
    `history.sqlite` is `rules/history.sqlite.toml`). The file need not exist any more."""
    p = Path(rule)
    return p.stem if p.suffix == ".toml" else p.name


def refresh_data(config: Config, into: Path, as_of: date, provider: str | None = None,
                 universes: list[str] | None = None):
    """Fetch live data for the listed members of the universes (all by default) into `into`.

    Returns the `RefreshReport`: a provider that is offline, blocked or fails is one line of its
    `errors`, and the others still run. Raises `InputError` (nothing fetched) when the live-data
    extra is not installed, with the install command as the hint."""
    from screener.data.snapshot import load_universe
    from screener.data.providers.base import INSTALL_HINT
    from screener.data.providers.refresh import refresh

    names = universes or known_universes(config)
    unknown = [u for u in names if u not in known_universes(config)]
    if unknown:
        raise InputError([Problem("unknown-universe", f"unknown universe `{unknown[0]}`",
                                  hint=suggestion(unknown[0], known_universes(config), "universe"))])
    symbols: list[str] = []
    for name in names:
        u = load_universe(config.universes_dir, name, config.display)
        for sym in u.filter(u["listed"])["symbol"].to_list():
            if sym not in symbols:
                symbols.append(sym)
    report = refresh(config, symbols, provider=provider, into=into, as_of=as_of)
    if report.unavailable:
        missing = " and ".join(report.unavailable)
        raise InputError([Problem("live-extra-missing",
                                  f"{missing} {'is' if len(report.unavailable) == 1 else 'are'} not installed: "
                                  "`screener data refresh` needs the live-data extra (nothing was fetched)",
                                  hint=f"install it: {INSTALL_HINT}")])
    return report


def __getattr__(name: str):
    """`Published` and `LockTimeout` live in `screener.pipeline`, loaded on first use (it brings
    sqlite3 and the history: commands that publish nothing never pay for them)."""
    if name in ("Published", "LockTimeout"):
        from screener import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'screener.api' has no attribute {name!r}")
