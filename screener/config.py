"""`config.toml`: paths (relative to the file), ESG rater order, exposure scores, schedule, jobs.

Loaded on every command, so it is checked here by hand (fast, no pandera import): unknown keys,
wrong types and bad values are problems with file:line:col. The `[[jobs]]` table is checked
row by row by the pandera schema in `screener.data.schemas` when the data or the scheduler needs it.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from screener.limits import DEFAULTS as DEFAULT_LIMITS, Limits, parse_limits, read_text, set_active
from screener.rules.fields import EXPOSURE_LEVELS
from screener.problems import InputError, Problem, suggestion
from screener.rules.tomlpos import TomlText, toml_error_position

DEFAULT_EXPOSURE_SCORES = {"pure": 1.0, "core": 0.75, "partial": 0.5, "peripheral": 0.25}
DEFAULT_RATERS = ("绿发信评",)
_SECTIONS = {
    "paths": ("rules", "universes", "data", "out"),
    "esg": ("raters",),
    "exposure_scores": EXPOSURE_LEVELS,
    "schedule": ("timezone", "grace_time", "catch_up", "closures"),
    "export": ("csv_bom", "lang", "lock_timeout", "base_url", "keep_days", "json_excluded_max"),
    "jobs": None,  # checked by the jobs schema
    "import": None,  # vendor import profiles: checked by screener.data.imports when used
    "freshness": ("consensus_days", "prices_days"),
    "limits": Limits.keys(),
    "history": ("detail_days",),
    "sweep": ("max_variants",),
}


@dataclass(frozen=True)
class Config:
    path: Path
    root: Path
    rules_dir: Path
    universes_dir: Path
    data_dir: Path
    out_dir: Path
    esg_raters: tuple[str, ...] = DEFAULT_RATERS
    exposure_scores: dict = field(default_factory=lambda: dict(DEFAULT_EXPOSURE_SCORES))
    timezone: str = "Asia/Shanghai"
    jobs: tuple[dict, ...] = ()
    csv_bom: bool = True
    lang: str = "en"
    lock_timeout: float = 120.0
    imports: dict = field(default_factory=dict)
    consensus_max_age_days: int = 45
    prices_max_age_days: int = 7
    grace_time: float = 3600.0
    catch_up: bool = True
    closures_path: Path | None = None
    base_url: str | None = None  # where the output folder is served: notifications link reports under it
    keep_days: int | None = None  # dated export folders kept: as-of within N days of the rule's newest (None: all)
    json_excluded_max: int | None = None  # above this many excluded members the JSON export omits them (None: never)
    limits: Limits = DEFAULT_LIMITS  # `[limits]`: input sizes (screener.limits)
    detail_days: int | None = None  # `[history] detail_days`: member files kept within N days of the rule's newest run
    sweep_max_variants: int = 200  # `[sweep] max_variants`: more variants than this need `--yes`

    @property
    def scoring_fingerprint(self) -> str:
        """The config values that change a screen's result (for "identical inputs")."""
        return repr((self.esg_raters, sorted(self.exposure_scores.items())))

    def universe_names(self) -> list[str]:
        """Names of the universes (file stems in the universes folder), sorted; no file is read."""
        d = self.universes_dir
        return sorted(p.stem for p in d.glob("*.csv")) if d.is_dir() else []

    def display(self, path: Path) -> str:
        """A path as the user would write it: relative to the working folder when possible."""
        path = Path(path)
        try:  # a symlink is shown as the link the user named (a dangling one or a loop has no target)
            full = Path(os.path.abspath(path)) if os.path.islink(path) else path.resolve()
            return str(full.relative_to(Path.cwd().resolve()))
        except (ValueError, OSError, RuntimeError):
            return str(path)


def load_config(path: str | Path = "config.toml") -> Config:
    """Read and check `config.toml`; raises `InputError` listing every problem."""
    path = Path(path)
    shown = str(path)
    try:
        text = read_text(path, shown, "config file", DEFAULT_LIMITS.rule_file_bytes)
    except FileNotFoundError:
        raise InputError([Problem("no-config", f"no config file at {shown}", shown, hint=(
            "run from the project folder (where config.toml is) or pass --config PATH"))]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError([Problem("unreadable", f"cannot read the config file: {e}", shown)]) from None

    problems: list[Problem] = []
    toml = TomlText(text)

    def problem(code, message, table, key=None, hint=None, at_key=False):
        p = (toml.key(table, key) if at_key else toml.value(table, key)) if key else None
        line = p.line if p else toml.table_line(table)
        col = p.col if p else 1
        problems.append(Problem(code, message, shown, line, col, hint, toml.source_line(line)))

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg, line, col = toml_error_position(str(e))
        raise InputError([Problem("toml", f"not valid TOML: {msg}", shown, line, col,
                                  "check quotes and brackets on that line", toml.source_line(line or 0))]) from None

    for key, value in data.items():
        if key not in _SECTIONS:
            problem("unknown-key", f"unknown section `{key}`", "", key, suggestion(key, _SECTIONS, "section"), at_key=True)
            continue
        allowed = _SECTIONS[key]
        if allowed is None:
            continue
        if not isinstance(value, dict):
            problem("bad-value", f"`{key}` must be a table: [{key}]", "", key)
            continue
        for sub in value:
            if sub not in allowed:
                problem("unknown-key", f"unknown key `{sub}` in [{key}]", key, sub, suggestion(sub, allowed, "key"), at_key=True)

    root = path.resolve().parent
    paths = data.get("paths", {}) if isinstance(data.get("paths", {}), dict) else {}
    resolved = {}
    for key, default in (("rules", "rules"), ("universes", "universes"), ("data", "data/sample"), ("out", "watchlists")):
        raw = paths.get(key, default)
        if not isinstance(raw, str) or not raw.strip():
            problem("bad-value", f"paths.{key} must be a folder path in quotes", "paths", key, f'{key} = "{default}"')
            raw = default
        resolved[key] = (root / raw).resolve()

    esg = data.get("esg", {}) if isinstance(data.get("esg", {}), dict) else {}
    raters = esg.get("raters", list(DEFAULT_RATERS))
    if not isinstance(raters, list) or not raters or not all(isinstance(r, str) and r.strip() for r in raters):
        got = "an empty list" if raters == [] else repr(raters)
        problem("bad-value", f"esg.raters must be a non-empty list of rater names, first preferred; got {got}", "esg",
                "raters", 'raters = ["绿发信评"] (or remove the line for the default)')
        raters = list(DEFAULT_RATERS)

    exposure = dict(DEFAULT_EXPOSURE_SCORES)
    table = data.get("exposure_scores", {})
    if isinstance(table, dict):
        for level, value in table.items():
            if level in DEFAULT_EXPOSURE_SCORES:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    problem("bad-value", f"exposure_scores.{level} must be a number from 0 to 1, got {value!r}",
                            "exposure_scores", level, f"{level} = {DEFAULT_EXPOSURE_SCORES[level]}")
                else:
                    exposure[level] = float(value)

    schedule = data.get("schedule", {}) if isinstance(data.get("schedule", {}), dict) else {}
    tz = schedule.get("timezone", "Asia/Shanghai")
    if not _valid_timezone(tz):
        problem("bad-timezone", f"unknown timezone {tz!r}", "schedule", "timezone",
                'use an IANA name such as "Asia/Shanghai", "Asia/Hong_Kong" or "America/New_York"')
        tz = "Asia/Shanghai"

    grace = schedule.get("grace_time", 3600)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not math.isfinite(grace) or grace < 0:
        problem("bad-value", f"schedule.grace_time must be seconds >= 0, got {grace!r}", "schedule", "grace_time",
                "grace_time = 3600  # how late a missed run may still start")
        grace = 3600
    catch_up = schedule.get("catch_up", True)
    if not isinstance(catch_up, bool):
        problem("bad-value", "schedule.catch_up must be true or false", "schedule", "catch_up")
        catch_up = True
    closures = schedule.get("closures")
    closures_path = None
    if closures is not None:
        if not isinstance(closures, str) or not closures.strip():
            problem("bad-value", "schedule.closures must be the path of a TOML file of official closures",
                    "schedule", "closures", 'closures = "calendars/closures.toml"')
        else:
            closures_path = (root / closures).resolve()
            if not closures_path.is_file():
                problem("no-file", f"no closures file at {closures}", "schedule", "closures",
                        "create it ([XSHG] closed = [\"2027-02-08\"]) or remove the line")

    export = data.get("export", {}) if isinstance(data.get("export", {}), dict) else {}
    csv_bom = export.get("csv_bom", True)
    if not isinstance(csv_bom, bool):
        problem("bad-value", "export.csv_bom must be true or false", "export", "csv_bom",
                "true writes a UTF-8 byte-order mark so Excel shows Chinese names")
        csv_bom = True
    lang = export.get("lang", "en")
    if lang not in ("en", "zh"):
        problem("bad-value", f"export.lang must be \"en\" or \"zh\", got {lang!r}", "export", "lang", 'lang = "zh"')
        lang = "en"
    lock_timeout = export.get("lock_timeout", 120)
    if (isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) or not math.isfinite(lock_timeout)
            or lock_timeout < 0):
        problem("bad-value", f"export.lock_timeout must be a number of seconds >= 0, got {lock_timeout!r}",
                "export", "lock_timeout", "lock_timeout = 120")
        lock_timeout = 120

    base_url = export.get("base_url")
    if base_url is not None and (not isinstance(base_url, str)
                                 or not base_url.startswith(("http://", "https://")) or " " in base_url):
        problem("bad-value", f"export.base_url must be an http(s) URL where the output folder is served, got {base_url!r}",
                "export", "base_url", 'base_url = "https://reports.example.internal/watchlists/"')
        base_url = None

    limits = {}
    for key, what, example in (
            ("keep_days", "days", "keep_days = 30  # dated export folders within 30 days of the rule's newest; "
                                  "remove the line to keep all"),
            ("json_excluded_max", "members", "json_excluded_max = 10000  # above it the JSON export leaves out "
                                             "the excluded members; remove the line for no cap")):
        value = export.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problem("bad-value", f"export.{key} must be a whole number of {what} >= 0, got {value!r}", "export", key,
                    example)
            value = None
        limits[key] = value

    history = data.get("history", {}) if isinstance(data.get("history", {}), dict) else {}
    detail_days = history.get("detail_days")
    if detail_days is not None and (isinstance(detail_days, bool) or not isinstance(detail_days, int) or detail_days < 0):
        problem("bad-value", f"history.detail_days must be a whole number of days >= 0, got {detail_days!r}", "history",
                "detail_days", "detail_days = 90  # excluded members' detail of runs within 90 days of the newest; "
                "watchlists are always kept")
        detail_days = None

    sweep_table = data.get("sweep", {}) if isinstance(data.get("sweep", {}), dict) else {}
    max_variants = sweep_table.get("max_variants", 200)
    if isinstance(max_variants, bool) or not isinstance(max_variants, int) or max_variants < 1:
        problem("bad-value", f"sweep.max_variants must be a whole number >= 1, got {max_variants!r}", "sweep",
                "max_variants", "max_variants = 200  # more variants than this need --yes")
        max_variants = 200

    fresh = data.get("freshness", {}) if isinstance(data.get("freshness", {}), dict) else {}
    ages = {}
    for key, default in (("consensus_days", 45), ("prices_days", 7)):
        value = fresh.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problem("bad-value", f"freshness.{key} must be a whole number of days >= 0, got {value!r}", "freshness", key,
                    f"{key} = {default}")
            value = default
        ages[key] = value
    imports = data.get("import", {})
    if not isinstance(imports, dict):
        problem("bad-value", "`import` must be a table such as [import.generic.consensus]", "", "import")
        imports = {}

    limits_table = data.get("limits", {}) if isinstance(data.get("limits", {}), dict) else {}
    input_limits = parse_limits(limits_table, lambda code, message, key, hint: problem(code, message, "limits", key, hint))

    jobs = data.get("jobs", [])
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        problem("bad-value", "jobs must be written as [[jobs]] tables", "", "jobs")
        jobs = []

    if problems:
        raise InputError(problems)
    set_active(input_limits)  # every later check in this process uses them (screener.limits.active)
    return Config(path=path.resolve(), root=root, rules_dir=resolved["rules"], universes_dir=resolved["universes"],
                  data_dir=resolved["data"], out_dir=resolved["out"], esg_raters=tuple(raters),
                  exposure_scores=exposure, timezone=tz, jobs=tuple(jobs), csv_bom=csv_bom, lang=lang,
                  lock_timeout=float(lock_timeout), grace_time=float(grace), catch_up=catch_up,
                  closures_path=closures_path, imports=imports, consensus_max_age_days=ages["consensus_days"],
                  prices_max_age_days=ages["prices_days"], base_url=base_url,
                  keep_days=limits["keep_days"], json_excluded_max=limits["json_excluded_max"], limits=input_limits,
                  detail_days=detail_days, sweep_max_variants=max_variants)


def _valid_timezone(name) -> bool:
    if not isinstance(name, str) or not name:
        return False
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False
