#!/usr/bin/env python3
"""Regenerate (or check) the example outputs in README.md by running the real CLI.

    python scripts/readme_examples.py            # rewrite the marked blocks in README.md
    python scripts/readme_examples.py --check    # exit 1 and print a diff when a block differs

A marked block is an HTML comment right before a fenced block (blank lines between are allowed):

    <!-- example: COLUMNS=100 screener run rules/esg_compute_leaders.toml --as-of 2026-11-26 -->
    ```
    ...whatever the command prints...
    ```

The comment holds options (`KEY=VALUE` words) and then one or more commands separated by ` ; `:

    COLUMNS=N      the terminal width the output is made for (required; tables fit it)
    recipe=NAME    a setup step from RECIPES below, applied before the commands (e.g. a broken rule)
    show=last      show only the last command's output (earlier commands are setup, e.g. a first run)
    head=N         keep the first N lines, then a line "…" (applied the same way every time)
    exit=N         the exit code the (last) command must return (default 0); anything else fails

Each block runs in a fresh copy of the repository's sample project (config.toml, rules/,
universes/, data/sample/) in a temporary folder, so run ids, output paths and history always
start the same way; the repository's own watchlists/ folder is never touched. stdout and stderr
are read together from one pipe (PYTHONUNBUFFERED, so in the order a terminal shows them); a
pipe gets plain text (no colour). Masking rules, applied to every output:

    - trailing spaces on each line are removed (the table renderer pads lines to the width);
    - the temporary folder's path, if printed, becomes `.`;
    - durations printed as `<number> s` / `<number>s` after "in" or "took" become `… s`
      (none of the current examples prints one).

Dates are made stable by fixed `--as-of` dates or by the sample snapshot (its default date is
its newest price date, not today).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PROJECT = ["config.toml", "rules", "universes", "data/sample"]   # the sample project
MARKER = re.compile(r"^<!-- example: (?P<spec>.*?) -->\s*$")
ELLIPSIS = "…"


def _broken_rule(folder: Path) -> None:
    """The README's `screener check` example: a typo in the profitable filter."""
    rule = folder / "rules" / "esg_compute_leaders.toml"
    text = rule.read_text(encoding="utf-8")
    old = 'profitable = "eps_fy1 > 0"'
    new = 'profitable = "eps_fy1 > 0 and eps_grwth_fy1 > 0.1"'
    if old not in text:
        raise SystemExit(f"recipe broken-rule: {old!r} not found in {rule.name}")
    rule.write_text(text.replace(old, new, 1), encoding="utf-8")


RECIPES = {"broken-rule": _broken_rule}


@dataclass
class Example:
    line: int                   # 1-based line of the marker
    spec: str
    columns: int
    commands: list[str]
    recipe: str | None = None
    show_last: bool = False
    head: int | None = None
    exit: int = 0
    start: int = 0              # index of the opening fence line
    end: int = 0                # index of the closing fence line
    current: list[str] = field(default_factory=list)


def parse_spec(spec: str, line: int) -> Example:
    words = spec.split()
    opts: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_]+=\S*", words[0]):
        k, v = words.pop(0).split("=", 1)
        opts[k] = v
    unknown = set(opts) - {"COLUMNS", "recipe", "show", "head", "exit"}
    if unknown:
        raise SystemExit(f"README.md:{line}: unknown example option(s) {sorted(unknown)}")
    if "COLUMNS" not in opts:
        raise SystemExit(f"README.md:{line}: an example needs COLUMNS=N")
    commands = [c.strip() for c in " ".join(words).split(" ; ") if c.strip()]
    if not commands or any(not c.startswith("screener ") for c in commands):
        raise SystemExit(f"README.md:{line}: every example command starts with `screener `")
    recipe = opts.get("recipe")
    if recipe is not None and recipe not in RECIPES:
        raise SystemExit(f"README.md:{line}: unknown recipe {recipe!r} (known: {sorted(RECIPES)})")
    if opts.get("show", "all") not in ("all", "last"):
        raise SystemExit(f"README.md:{line}: show= is all or last")
    return Example(line=line, spec=spec, columns=int(opts["COLUMNS"]), commands=commands,
                   recipe=recipe, show_last=opts.get("show") == "last",
                   head=int(opts["head"]) if "head" in opts else None,
                   exit=int(opts.get("exit", "0")))


def find_examples(lines: list[str]) -> list[Example]:
    out = []
    for i, text in enumerate(lines):
        m = MARKER.match(text)
        if not m:
            continue
        ex = parse_spec(m.group("spec"), i + 1)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or not lines[j].startswith("```"):
            raise SystemExit(f"README.md:{i + 1}: an example marker must come right before a fenced block")
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        if k >= len(lines):
            raise SystemExit(f"README.md:{j + 1}: unclosed fenced block")
        ex.start, ex.end, ex.current = j, k, lines[j + 1:k]
        out.append(ex)
    return out


def _cli() -> list[str]:
    return [sys.executable, "-m", "screener"]


def mask(text: str, folder: Path) -> list[str]:
    for p in {str(folder), str(folder.resolve())}:
        text = text.replace(p + os.sep, "").replace(p, ".")
    text = re.sub(r"\b(in|took) \d+(?:\.\d+)? ?s\b", r"\1 … s", text)
    return [ln.rstrip() for ln in text.rstrip("\n").split("\n")]


def run_example(ex: Example, cache: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="readme-example-") as tmp:
        folder = Path(tmp)
        for rel in PROJECT:
            src, dst = ROOT / rel, folder / rel
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        if ex.recipe:
            RECIPES[ex.recipe](folder)
        env = {k: v for k, v in os.environ.items()
               if k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "TERM_PROGRAM")}
        env.update(COLUMNS=str(ex.columns), LINES="50", PYTHONUNBUFFERED="1", NO_COLOR="1",
                   SCREENER_CACHE_DIR=str(cache), PYTHONIOENCODING="utf-8", TZ="UTC")
        shown: list[str] = []
        for n, cmd in enumerate(ex.commands):
            argv = _cli() + shlex.split(cmd)[1:]
            p = subprocess.run(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            text = p.stdout.decode("utf-8")
            last = n == len(ex.commands) - 1
            want = ex.exit if last else 0
            if p.returncode != want:
                raise SystemExit(f"README.md:{ex.line}: `{cmd}` exited {p.returncode}, expected {want}:\n{text}")
            if last or not ex.show_last:
                shown.extend(mask(text, folder))
    if ex.head is not None and len(shown) > ex.head:
        shown = shown[:ex.head] + [ELLIPSIS]
    return shown


def render(readme: Path = README) -> tuple[list[str], list[str]]:
    """(the README's lines, the lines with every example block regenerated)."""
    lines = readme.read_text(encoding="utf-8").split("\n")
    new = list(lines)
    with tempfile.TemporaryDirectory(prefix="readme-cache-") as cache:
        for ex in reversed(find_examples(lines)):       # bottom up: indices stay valid
            new[ex.start + 1:ex.end] = run_example(ex, Path(cache))
    return lines, new


def diff(readme: Path = README) -> str:
    """The unified diff between the README and its regenerated examples ('' when none)."""
    old, new = render(readme)
    return "".join(difflib.unified_diff([ln + "\n" for ln in old], [ln + "\n" for ln in new],
                                        "README.md", "README.md (regenerated)"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 and print a diff when a block differs")
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    old, new = render(args.readme)
    if args.check:
        d = "".join(difflib.unified_diff([ln + "\n" for ln in old], [ln + "\n" for ln in new],
                                         "README.md", "README.md (regenerated)"))
        if d:
            sys.stdout.write(d)
            print("README examples differ from what the commands print: "
                  "run python scripts/readme_examples.py", file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.readme.write_text("\n".join(new), encoding="utf-8")
        print(f"rewrote the example blocks in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
