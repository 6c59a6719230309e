"""A sweep's plan: the base rule, the --set settings and every variant, each checked like a rule
file (`screener.rules.rule.parse_rule` on the variant's text) before anything runs.

Every variant is checked. A value that makes every variant holding it fail is reported against
its `--set`; a combination that fails only together (`keep` below `top`) names the variant with
all its values (the first few; the rest are counted)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from screener.problems import InputError, Problem
from screener.sweep.spec import (MAX_VARIANTS, Setting, Variant, apply, build_variants, count_variants,
                                 parse_settings, shown)

#: at most this many variant problems are listed (the rest are counted)
SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class Plan:
    base: object                  # the rule as written: a `Screen`
    settings: tuple[Setting, ...]
    variants: tuple[Variant, ...]
    screens: tuple                # one checked `Screen` per variant, in variant order


def make_plan(config, rule: str, options, *, max_variants: int = MAX_VARIANTS, yes: bool = False,
              today: date | None = None) -> Plan:
    from screener import api
    from screener.rules.rule import parse_rule

    base = api.load_screens(config, [rule])[0]
    doc = tomllib.loads(base.text)
    settings = parse_settings(list(options), doc)
    n = count_variants(settings)
    if n > max_variants and not yes:
        sizes = " x ".join(str(len(s.values)) for s in settings)
        raise InputError([Problem("too-many-variants", f"the --set lists make {n:,} variants ({sizes}), more than "
                                  f"{max_variants:,}", hint="pass --yes to run them all, or raise --max-variants ([sweep] max_variants in config.toml); "
                                  "or sweep fewer values")])
    known = api.known_universes(config)
    symbols = _universe_symbols(config)
    day = today or api.today(config)
    path = Path(rule)
    stem = Path(base.path).stem if base.path else path.stem

    def check(text: str):
        return parse_rule(text, base.path, stem, known, universe_symbols=symbols, today=day)

    problems: list[Problem] = []
    variants = build_variants(doc, settings)
    screens, errors = [], {}
    for var in variants:
        try:
            screens.append(check(var.text))
        except InputError as e:
            screens.append(None)
            errors[var.index] = e
    # a value that fails in every variant holding it is the --set's fault; any other failure is
    # the combination's
    blamed = set()
    for s in settings:
        for v in s.values:
            holding = [var for var in variants if shown(var.values[s.key]) == shown(v)]
            if holding and all(var.index in errors for var in holding):
                blamed.update(var.index for var in holding)
                problems.append(_problem(f"--set {s.option}", f"the value {s.key}={shown(v)}", errors[holding[0].index]))
    failed = 0
    for var in variants:
        if var.index in errors and var.index not in blamed:
            failed += 1
            if failed <= SHOWN_PROBLEMS:
                problems.append(_problem(f"variant {var.index + 1} ({var.label()})", "this combination",
                                         errors[var.index]))
    if failed > SHOWN_PROBLEMS:
        problems.append(Problem("bad-variant", f"{failed - SHOWN_PROBLEMS} more variants fail the rule checks"))
    if problems:
        raise InputError(problems)
    return Plan(base, tuple(settings), tuple(variants), tuple(screens))


def _text(doc: dict, values: dict) -> str:
    from screener.sweep.spec import toml_text

    return toml_text(apply(doc, values))


def _problem(where: str, what: str, error: InputError) -> Problem:
    first = next((p for p in error.problems if p.severity == "error"), error.problems[0])
    return Problem("bad-variant", f"{what} makes the rule invalid: {first.message}", where, hint=first.hint)


def _universe_symbols(config):
    from screener.data.snapshot import load_universe

    read: dict = {}

    def symbols(name: str) -> frozenset[str]:
        if name not in read:
            try:
                read[name] = frozenset(load_universe(config.universes_dir, name, config.display)
                                       .get_column("symbol").to_list())
            except InputError as e:
                read[name] = e
        if isinstance(read[name], InputError):
            raise read[name]
        return read[name]

    return symbols
