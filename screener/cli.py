"""Command line: parse options, call one library function, hand the result to a formatter.

Exit codes: 0 success; 1 the screen ran but something asked for failed (an export); 2 bad
input (rule, config, data, options). Bad input never prints a traceback. With `--json`, stdout
carries JSON only; diagnostics go to stderr. Imports are lazy so `--help` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import click

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def echo(message: str | None = None, err: bool = False) -> None:
    """`click.echo` for text made from input (names, paths, values, messages): control characters
    are shown escaped (`\\x1b`), never sent raw to the terminal (`screener.outputs.safe.printable`)."""
    from screener.outputs.safe import printable

    click.echo(printable(message) if isinstance(message, str) else message, err=err)


def _config_option(f):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                        help="config file (default ./config.toml); paths in it are relative to it")(f)


def _json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="write machine-readable JSON to stdout, nothing else")(f)


def _wide_option(f):
    return click.option("--wide", is_flag=True,
                        help="show every table column in full (default: fit the terminal, naming the columns left out)")(f)


def _boundary(f):
    """Turn `InputError` into rendered problems on stderr and exit 2; never a traceback."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from screener.problems import InputError

        try:
            return f(*args, **kwargs)
        except InputError as e:
            _print_problems(e.problems, err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # a bug of ours: say so plainly, keep the traceback for those who ask
            if os.environ.get("SCREENER_DEBUG"):
                raise
            echo(f"internal error: {type(e).__name__}: {e}\n"
                 "This is a bug in screener, not in your files. Rerun with SCREENER_DEBUG=1 for details and report it.",
                 err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


def _print_problems(problems, err: bool) -> None:
    for p in problems:
        echo(p.render(), err=err)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors or warnings:
        parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
        parts += [f"{warnings} warning{'s' if warnings != 1 else ''}"] if warnings else []
        echo(", ".join(parts), err=err)


def _config(ctx: click.Context, path: str | None):
    from screener.config import load_config

    path = path or (ctx.obj or {}).get("config_path") or "config.toml"
    return load_config(path)


def _as_of(config, value, sample_default: bool = False):
    """--as-of as a date. Left out: today in the config's timezone or, with `sample_default`
    (run, explain) on a sample snapshot, its newest price date, said on stderr (`api.default_as_of`)."""
    from datetime import date

    from screener.api import default_as_of, today

    if value is None:
        if not sample_default:
            return today(config)
        day, note = default_as_of(config)
        if note:
            echo(f"note: {note}", err=True)
        return day
    from screener.limits import DATE_RANGE

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-26", param_hint="--as-of")
    if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
        raise click.BadParameter(f"{value} is outside the dates screener works with ({DATE_RANGE[0]} to {DATE_RANGE[1]})",
                                 param_hint="--as-of")
    return day


def _emit_json(payload) -> None:
    from screener.outputs.safe import json_safe

    click.echo(json_safe(json.dumps(payload, ensure_ascii=False, indent=2)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_config_option
@click.version_option(package_name="theme-screener", prog_name="screener")
@click.pass_context
def main(ctx: click.Context, config_path):
    """Theme screener: declarative stock screens over the 2026 theme universes.

    \b
    Start with:
      screener run rules/esg_compute_leaders.toml
      screener explain rules/esg_compute_leaders.toml 603019.SH
      screener check
    """
    ctx.obj = {"config_path": config_path}


@main.command()
@click.argument("rules", nargs=-1, required=True)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="screen as of this date (default: today in the config's timezone; on a sample "
              "snapshot, its newest price date)")
@click.option("--format", "formats", default="csv,json", show_default=True,
              help="exports to write, comma-separated: csv, xlsx, html, json, parquet, md")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="export folder (default: paths.out in config)")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None,
              help="column headers of csv/xlsx/html/md (default: export.lang in config, else en)")
@click.option("--no-export", is_flag=True, help="print only: write no files and record no history")
@_wide_option
@_json_option
@_config_option
@click.pass_context
@_boundary
def run(ctx, rules, as_of, formats, out_dir, lang, no_export, wide, as_json, config_path):
    """Screen RULE... (files, or names in rules/): print the ranked watchlist, write exports and
    record the run in the history (<out>/history.sqlite)."""
    from screener import api
    from screener.outputs.export import FORMATS

    config = _config(ctx, config_path)
    day = _as_of(config, as_of, sample_default=True)
    wanted = _formats(formats, FORMATS)
    screens = api.load_screens(config, rules)
    if not no_export:
        from screener.outputs.export import check_folders

        check_folders(screens, config.display)

    def waiting(message):
        echo(message, err=True)

    published = api.publish(config, screens, day, wanted, out_dir, lang, write=not no_export, on_wait=waiting)
    if as_json:
        from screener.outputs.export import json_payload
        from screener.outputs.report import dumps_payload

        payloads = []
        for p in published:
            if p.context is None:  # never screened (its lock was busy): the error says why
                payloads.append({"rule": p.rule, "error": p.error})
                continue
            payload = json_payload(p.context)
            payload["exports"] = list(p.files)
            payload["run_id"] = p.run_id
            payload["identical_to"] = p.identical_to
            if p.pruned is not None:  # `[export] keep_days`: the dated folders this run removed
                payload["pruned"] = p.pruned.to_dict(config.display)
            if p.pruned_detail is not None:  # `[history] detail_days`: the runs whose member files went
                payload["pruned_detail"] = p.pruned_detail.to_dict()
            if p.notices:
                payload["notices"] = list(p.notices)
            if p.error:
                payload["error"] = p.error
            payloads.append(payload)
        click.echo(dumps_payload(payloads[0] if len(payloads) == 1 else payloads))
    else:
        from screener.outputs.terminal import print_result

        for p in published:
            if p.result is not None:
                print_result(p.result, p if not no_export else None, wide=wide, lang=lang or config.lang)
    for p in published:
        for w in (p.result.warnings if p.result is not None else ()):
            echo(f"warning: {w}", err=True)
        for n in p.notices:
            echo(f"note: {n}", err=True)
    failed = [p for p in published if p.error]
    for p in failed:
        echo(f"error: {p.error}", err=True)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command()
@click.argument("rule")
@click.argument("runs", nargs=-1, type=int)
@click.option("--diff", is_flag=True, help="what entered, left and moved (default: the newest run against the run it was compared with: "
              "the newest as-of on or before its own)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="output folder holding history.sqlite (default: paths.out)")
@click.option("--prune", is_flag=True, help="drop the member detail (history/run-*.parquet) of runs more than "
              "[history] detail_days older than the newest; watchlists are kept")
@click.option("--detail-days", "detail_days", type=click.IntRange(min=0), default=None,
              help="with --prune: the days to keep instead of [history] detail_days")
@_json_option
@_config_option
@click.pass_context
@_boundary
def history(ctx, rule, runs, diff, out_dir, prune, detail_days, as_json, config_path):
    """Past runs of RULE; with --diff [RUN_A RUN_B], what changed between two of them; with
    --prune, drop old runs' member detail (their watchlists stay)."""
    from screener import api

    config = _config(ctx, config_path)
    if detail_days is not None and not prune:
        raise click.BadParameter("goes with --prune", param_hint="--detail-days")
    if prune:
        if diff or runs:
            raise click.BadParameter("--prune takes no run ids and no --diff", param_hint="--prune")
        done = api.history_prune(config, rule, detail_days, out_dir)
        if as_json:
            _emit_json(done.to_dict())
        else:
            echo(done.message())
        sys.exit(EXIT_FAILED if done.errors else EXIT_OK)
    if diff:
        if len(runs) not in (0, 2):
            raise click.BadParameter("give two run ids (older first), or none for the newest two", param_hint="RUNS")
        before, after = (runs[0], runs[1]) if runs else (None, None)
        changes = api.history_diff(config, rule, before, after, out_dir)
        if as_json:
            d = changes.to_dict()
            _emit_json({"entered": d["entered"], "left": d["left"], "moved": d["moved"],
                        "before": d["before"], "after": d["after"]})
        else:
            from screener.outputs.terminal import print_changes

            print_changes(rule, changes, lang=config.lang)
        return
    if runs:
        raise click.BadParameter("run ids go with --diff", param_hint="RUNS")
    found = api.history_runs(config, rule, out_dir)
    if as_json:
        _emit_json([r.to_dict() for r in found])
    else:
        from screener.outputs.terminal import print_runs

        print_runs(rule, found)


@main.command()
@click.argument("rules", nargs=-1)
@_json_option
@_config_option
@click.pass_context
@_boundary
def check(ctx, rules, as_json, config_path):
    """Check rule files (all of rules/ when none is named) without reading any data."""
    from screener import api

    config = _config(ctx, config_path)
    results = api.check_rules(config, rules)
    bad = any(p.severity == "error" for r in results for p in r.problems)
    if as_json:
        _emit_json([{"path": r.path, "ok": r.screen is not None, "name": r.screen.name if r.screen else None,
                     "problems": [p.to_dict() for p in r.problems]} for r in results])
    else:
        for r in results:
            if r.screen is not None:
                s = r.screen
                echo(f"{r.path}: ok ({len(s.filters)} filter{'s' if len(s.filters) != 1 else ''}, "
                     f"{len(s.scores)} score{'s' if len(s.scores) != 1 else ''}, "
                     f"universe {', '.join(s.universes)})")
        problems = [p for r in results for p in r.problems]
        if problems:
            _print_problems(problems, err=False)
        if not results:
            echo("no rule files found", err=True)
    sys.exit(EXIT_BAD_INPUT if bad else EXIT_OK)


@main.command()
@click.argument("rule")
@click.argument("symbol")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="as of this date (default: today; on a sample snapshot, "
              "its newest price date)")
@_json_option
@_config_option
@click.pass_context
@_boundary
def explain(ctx, rule, symbol, as_of, as_json, config_path):
    """Why SYMBOL (symbol, code or name) is in or out of RULE's watchlist."""
    from screener import api

    config = _config(ctx, config_path)
    day = _as_of(config, as_of, sample_default=True)
    (screen,) = api.load_screens(config, [rule])
    ex = api.explain(config, screen, symbol, day)
    if as_json:
        _emit_json(ex.to_dict())
    else:
        from screener.outputs.terminal import print_explanation

        print_explanation(ex)


@main.command("test")
@click.argument("rules", nargs=-1)
@_json_option
@_config_option
@click.pass_context
@_boundary
def test_(ctx, rules, as_json, config_path):
    """Check the rules' [[expect]] cases (all of rules/ when none is named) against the configured
    data: each failure as file:line, expected and actual. Exit 1 when any fails."""
    from screener import api

    config = _config(ctx, config_path)
    report = api.check_expectations(config, rules)
    if as_json:
        _emit_json(report.to_dict())
    else:
        for outcome in report.failed:
            for line in outcome.lines():
                echo(line)
        echo(report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


@main.command()
@click.argument("rules", nargs=-1, required=True)
@click.option("--from", "start", metavar="YYYY-MM-DD", help="first rebalance period starts here (inclusive)")
@click.option("--to", "end", metavar="YYYY-MM-DD",
              help="last date (inclusive; default today, or the newest date of a sample snapshot)")
@click.option("--every", help="rebalance at the end of each month (default), quarter or week (Sundays)")
@click.option("--dates", "dates_", metavar="D1,D2,...", help="explicit rebalance dates instead of --from/--to/--every")
@click.option("--buckets", default=5, show_default=True, type=int, help="rank buckets of the passers (5 = quintiles)")
@click.option("--cost-bps", "cost_bps", type=float, help="trading cost per unit traded, in basis points")
@click.option("--benchmark", metavar="SYMBOL", help="compare with this security's returns instead of the universe's")
@click.option("--pins", is_flag=True, help="apply the rule's pins at past dates (look-ahead: a pin is written today)")
@click.option("--format", "formats", default="", help="files to write, comma-separated: html, csv, json")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="folder for --format files (default: <paths.out>/backtests/<rule>_<first>_<last>/)")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None, help="language of the HTML tear sheet")
@_wide_option
@_json_option
@_config_option
@click.pass_context
@_boundary
def backtest(ctx, rules, start, end, every, dates_, buckets, cost_bps, benchmark, pins, formats, out_dir, lang,
             wide, as_json, config_path):
    """Would RULE... have picked winners? The screen at each past date, point in time, with
    forward returns: watchlist vs benchmark, rank buckets, IC, turnover (several rules side by side)."""
    from screener import api

    config = _config(ctx, config_path)
    wanted = _formats(formats, api.BACKTEST_FORMATS)
    first, last, explicit = _date_span(config, start, end, dates_)
    screens = api.load_screens(config, rules)
    results = api.backtest(config, screens, start=first, end=last, every=every, dates=explicit, buckets=buckets,
                           cost_bps=cost_bps, benchmark=benchmark, pins=pins)
    files = api.write_backtest(config, results, wanted, out_dir, lang) if wanted else []
    if as_json:
        from screener.outputs.backtest_files import payload

        _emit_json(payload(results))
    else:
        from screener.outputs.backtest_terminal import print_backtest

        print_backtest(results, wide=wide)
    for f in files:
        echo(f"wrote {config.display(f)}", err=as_json)
    failed = False
    for r in results:
        for w in r.warnings:
            echo(f"warning: {w}", err=True)
        if r.periods["passers_with_return"].sum() == 0 and r.periods["benchmark_return"].null_count() == r.periods.height:
            echo(f"error: {r.rule}: every forward return is missing: the rule's universes have no prices in "
                 f"{r.data.get('folder')} over these dates (screener data check; screener data import ... --kind prices)",
                 err=True)
            failed = True
    sys.exit(EXIT_FAILED if failed else EXIT_OK)



@main.command()
@click.argument("rule")
@click.option("--set", "sets", multiple=True, metavar="KEY=V1,V2,...", required=True,
              help="a dotted key of the rule file and the values to try (TOML values, comma-separated; "
                   "repeat for a grid, the first --set varying slowest)")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="first rebalance period starts here (inclusive)")
@click.option("--to", "end", metavar="YYYY-MM-DD",
              help="last date (inclusive; default today, or the newest date of a sample snapshot)")
@click.option("--every", help="rebalance at the end of each month (default), quarter or week (Sundays)")
@click.option("--dates", "dates_", metavar="D1,D2,...", help="explicit rebalance dates instead of --from/--to/--every")
@click.option("--by", default="ic_mean", show_default=True, help="the summary figure that ranks the variants")
@click.option("--buckets", default=5, show_default=True, type=int, help="rank buckets of the passers (5 = quintiles)")
@click.option("--cost-bps", "cost_bps", type=float, help="trading cost per unit traded, in basis points")
@click.option("--benchmark", metavar="SYMBOL", help="compare with this security's returns instead of the universe's")
@click.option("--workers", type=int, help="local worker processes (default: as cores and memory allow)")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="run the variants on this Dask scheduler's workers")
@click.option("--ship-data", "ship_data", is_flag=True,
              help="with --scheduler: send the snapshot and universe files to the workers (size-capped)")
@click.option("--ship-max-mb", "ship_max_mb", type=float, default=512, show_default=True,
              help="the cap on what --ship-data sends, in MB")
@click.option("--max-variants", "max_variants", type=click.IntRange(min=1), default=None,
              help="more variants than this need --yes (default: [sweep] max_variants in config.toml, else 200)")
@click.option("--yes", is_flag=True, help="run however many variants the --set lists make")
@click.option("--format", "formats", default="", help="files to write, comma-separated: html, csv, json")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="folder for --format files (default: <paths.out>/sweeps/<rule>_<first>_<last>/)")
@_json_option
@_config_option
@click.pass_context
@_boundary
def sweep(ctx, rule, sets, start, end, every, dates_, by, buckets, cost_bps, benchmark, workers, scheduler, ship_data,
          ship_max_mb, max_variants, yes, formats, out_dir, as_json, config_path):
    """How sensitive is RULE to its weights and thresholds? Backtest every variant that the
    --set lists make (their cartesian product), locally or on a Dask cluster, ranked by --by."""
    from screener.sweep import SweepInterrupted, SweepOptions, run_sweep
    from screener.sweep.local import WorkersDied
    from screener.sweep.files import FORMATS
    from screener.sweep.progress import Progress

    config = _config(ctx, config_path)
    wanted = _formats(formats, FORMATS)
    first, last, explicit = _date_span(config, start, end, dates_)
    options = SweepOptions(start=first, end=last, every=every, dates=explicit, by=by, buckets=buckets,
                           cost_bps=cost_bps, benchmark=benchmark, workers=workers, scheduler=scheduler,
                           ship_data=ship_data, ship_max_bytes=int(ship_max_mb * 2**20),
                           max_variants=max_variants if max_variants is not None else config.sweep_max_variants,
                           yes=yes)
    try:
        result = run_sweep(config, rule, sets, options, progress=lambda n: Progress(n))
    except SweepInterrupted as e:
        listed = "; ".join(e.finished[:20]) + (f"; and {len(e.finished) - 20} more" if len(e.finished) > 20 else "")
        echo(f"interrupted: {len(e.finished)} of {e.total} backtests had finished" + (f": {listed}" if e.finished else ""),
             err=True)
        sys.exit(130)
    except WorkersDied as e:
        echo(f"error: the sweep did not finish: {e}; try fewer --workers", err=True)
        sys.exit(EXIT_FAILED)
    from screener.sweep.files import write_sweep

    files = write_sweep(config, result, wanted, out_dir) if wanted else []
    if as_json:
        _emit_json(result.to_dict())
    else:
        from screener.sweep.terminal import print_sweep

        print_sweep(result)
    for f in files:
        echo(f"wrote {config.display(f)}", err=as_json)
    warnings = sorted({w for _, out in result.variants for w in out.get("warnings", [])} |
                      set(result.base.get("warnings", [])))
    for w in warnings:
        echo(f"warning: {w}", err=True)
    sys.exit(EXIT_OK)

def _formats(text: str, known) -> list[str]:
    """`--format a,b`: the formats named, each once, in order; an unknown one is a usage error
    with a did-you-mean."""
    wanted = list(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    for f in wanted:
        if f not in known:
            from screener.problems import suggestion

            raise click.BadParameter(f"unknown format {f!r}; {suggestion(f, known, 'format')}", param_hint="--format")
    return wanted


def _date_span(config, start, end, dates_):
    """`--from/--to` or `--dates` of `backtest` and `sweep`: (first, last, explicit dates or None);
    `--to` left out is today, or a sample snapshot's newest date."""
    first = _date_option(start, "--from")
    if dates_:
        return first, _date_option(end, "--to"), [_date_option(d.strip(), "--dates") for d in dates_.split(",")
                                                  if d.strip()]
    return first, _date_option(end, "--to") if end else (_default_to(config) if first else None), None


def _default_to(config):
    """`backtest --to` left out: today, or the newest date of a sample snapshot (said on stderr)."""
    from screener.api import default_as_of

    day, note = default_as_of(config)
    if note:
        echo(f"note: --to {day.isoformat()}, the newest date in the sample snapshot", err=True)
    return day


def _date_option(value, name):
    from datetime import date

    if value is None:
        return None
    from screener.limits import DATE_RANGE

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-06-30", param_hint=name)
    if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
        raise click.BadParameter(f"{value} is outside the dates screener works with ({DATE_RANGE[0]} to {DATE_RANGE[1]})",
                                 param_hint=name)
    return day


@main.command()
@click.argument("name", required=False)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="members as of this date (membership windows; default today)")
@_wide_option
@_json_option
@_config_option
@click.pass_context
@_boundary
def universes(ctx, name, as_of, wide, as_json, config_path):
    """List the universes with their member counts, or one universe's members."""
    from screener import api

    config = _config(ctx, config_path)
    if name is None:
        summary = api.universe_summary(config, _as_of(config, as_of))
        if as_json:
            _emit_json(summary)
        else:
            from screener.outputs.terminal import print_universe_summary

            print_universe_summary(summary, wide=wide)
        return
    table = api.universe_table(config, name, _as_of(config, as_of))
    if as_json:
        cols = ["symbol", "name", "exposure", "listed", "name_en", "exchange", "source", "note", "esg_rating", "esg_rater"]
        _emit_json(table.select(cols).to_dicts())
    else:
        from screener.outputs.terminal import print_universe

        print_universe(name, table, wide=wide)


@main.group()
def data():
    """Check, import and refresh data snapshots."""


@data.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@_json_option
@_config_option
@click.pass_context
@_boundary
def data_check(ctx, folder, as_json, config_path):
    """Check every file of a snapshot folder (default: paths.data), reporting every problem.

    Without FOLDER, the universes and the config's jobs are checked too."""
    from pathlib import Path

    from screener import api

    config = _config(ctx, config_path)
    results = api.check_data(config, Path(folder).resolve() if folder else None)
    bad = any(p.severity == "error" for ps in results.values() for p in ps)
    if as_json:
        _emit_json({"ok": not bad, "files": {k: [p.to_dict() for p in v] for k, v in results.items()}})
    else:
        for path, problems in results.items():
            errors = [p for p in problems if p.severity == "error"]
            if not problems:
                echo(f"{path}: ok")
            elif not errors:
                echo(f"{path}: ok, with warnings")
        _print_problems([p for ps in results.values() for p in ps], err=False)
    sys.exit(EXIT_BAD_INPUT if bad else EXIT_OK)


@data.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", type=click.Choice(["wind", "ifind", "choice", "generic"]), required=True,
              help="the vendor layout (generic: the column mapping in config.toml's [import.generic.<kind>])")
@click.option("--kind", type=click.Choice(["consensus", "prices", "esg"]), required=True)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="the date the export was taken (default: today)")
@click.option("--into", "into", type=click.Path(file_okay=False), help="snapshot folder to merge into (default: paths.data)")
@click.option("--rater", help="for --kind esg when the file has no rater column, e.g. 华证")
@_json_option
@_config_option
@click.pass_context
@_boundary
def data_import(ctx, files, source, kind, as_of, into, rater, as_json, config_path):
    """Bring vendor exports (Wind, iFinD, Choice, generic; xlsx or csv; UTF-8 or GBK) into the
    snapshot format: checked, merged, written atomically; rejected rows are reported."""
    from pathlib import Path

    from screener.data.imports import import_file

    config = _config(ctx, config_path)
    day = _as_of(config, as_of)
    target = Path(into).resolve() if into else config.data_dir
    reports = [import_file(Path(f), source=source, kind=kind, as_of=day, into=target, config=config, rater=rater)
               for f in files]
    from screener.data.snapshot import warm_cache

    warm_cache(target, config.display)
    if as_json:
        _emit_json([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict())
        return
    for r in reports:
        echo(f"{r.file}: {r.rows_read} rows read -> {r.rows_imported} snapshot rows in {r.target} "
             f"({r.rows_new} new, {r.rows_changed} changed, {r.rows_unchanged} unchanged"
             + (f", {r.rows_skipped} empty rows skipped" if r.rows_skipped else "") + ")"
             + ("" if r.written else "; the file was already up to date"))
        for note in r.notes:
            echo(f"  note: {note}", err=True)
        if r.rejected:
            echo(f"  {len(r.rejected)} row(s) rejected, listed in {r.rejected_report}:", err=True)
            for rej in r.rejected[:10]:
                echo(f"  row {rej.row}, column {rej.column}: {rej.value!r} {rej.reason}", err=True)
            if len(r.rejected) > 10:
                echo(f"  ... and {len(r.rejected) - 10} more", err=True)


@data.command("refresh")
@click.option("--provider", type=click.Choice(["akshare", "yfinance"]), help="only this provider (default: each for its markets)")
@click.option("--into", "into", type=click.Path(file_okay=False), help="snapshot folder (default: paths.data)")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="date stamped on the rows (default: today)")
@click.option("--universe", "universe_names", multiple=True, help="only these universes (default: all)")
@_json_option
@_config_option
@click.pass_context
@_boundary
def data_refresh(ctx, provider, into, as_of, universe_names, as_json, config_path):
    """Fetch today's consensus, prices and ESG ratings from free providers (needs the live extra:
    pip install -e '.[live]') and append them to the snapshot as a new as_of."""
    from pathlib import Path

    from screener import api

    config = _config(ctx, config_path)
    day = _as_of(config, as_of)
    target = Path(into).resolve() if into else config.data_dir
    report = api.refresh_data(config, target, day, provider, list(universe_names))
    if as_json:
        _emit_json(report.to_dict())
    else:
        for kind, n in report.written.items():
            echo(f"{kind}: {n} rows as of {report.as_of} in {report.into}")
        for kind, symbols in report.missing.items():
            if symbols:
                echo(f"{kind}: nothing for {len(symbols)} securities: {', '.join(symbols[:15])}"
                     + (" ..." if len(symbols) > 15 else ""), err=True)
    for e in report.errors:
        echo(f"error: {e}", err=True)
    sys.exit(EXIT_FAILED if report.errors else EXIT_OK)


@main.command()
@click.option("--list", "list_", is_flag=True, help="print each job's next run times and exit")
@click.option("--from", "from_", metavar="DATETIME", help="with --list: start from this time (ISO 8601; default now, "
              "in the config's timezone when no offset is given)")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 1000), help="with --list: runs per job")
@click.option("--run-now", "run_now", metavar="JOB", help="run one job once, now, and exit with its status")
@click.option("--status", "status", is_flag=True, help="print the last run, next run and last error of each job")
@click.option("--log-file", type=click.Path(dir_okay=False), help="write the daemon's log here (default: stderr)")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_json_option
@_config_option
@click.pass_context
@_boundary
def schedule(ctx, list_, from_, count, run_now, status, log_file, log_format, as_json, config_path):
    """Run the scheduler daemon: regenerate each [[jobs]] watchlist at its times, on its
    exchange's trading days, until SIGTERM or Ctrl-C."""
    from pathlib import Path

    from screener.schedule import daemon as scheduler

    config = _config(ctx, config_path)
    if list_:
        start = _parse_from(config, from_)
        listing = scheduler.upcoming(config, start, count)
        if as_json:
            _emit_json([{"job": j["job"], "next_runs": j["next_runs"], "provisional": j["provisional"],
                         "calendar": j["calendar"], "timezone": j["timezone"]} for j in listing])
        elif not listing:  # said here: a [[jobs]] in rich markup would print as []
            click.echo(f"no [[jobs]] in {config.display(config.path)}: nothing is scheduled")
        else:
            from screener.outputs.terminal import print_schedule

            print_schedule(listing, start)
        return
    if status:
        data = scheduler.StatusFile(config.out_dir).shown(config.timezone)
        if as_json:
            _emit_json(data)
        else:
            from screener.outputs.terminal import print_status

            print_status(data, config.display(config.out_dir / scheduler.STATUS_FILE))
        return
    daemon = scheduler.Daemon(Path(config.path))
    scheduler.setup_logging(log_file, log_format, daemon.zone_of)
    if run_now:
        if run_now not in daemon.jobs:
            from screener.problems import InputError, Problem, suggestion

            raise InputError([Problem("unknown-job", f"no job named {run_now!r}", config.display(config.path),
                                      hint=suggestion(run_now, list(daemon.jobs), "job"))])
        outcome = daemon.run_job(run_now)
        if as_json:
            _emit_json(outcome.__dict__)
        sys.exit(EXIT_OK if outcome.status == "ok" else EXIT_BAD_INPUT if outcome.bad_input else EXIT_FAILED)
    sys.exit(daemon.serve())


def _parse_from(config, value):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(config.timezone)
    if value is None:
        return datetime.now(tz)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time; write e.g. 2026-09-30T17:00 or 2026-09-30T17:00+08:00",
                                 param_hint="--from")
    return when if when.tzinfo else when.replace(tzinfo=tz)


if __name__ == "__main__":  # pragma: no cover
    main()
