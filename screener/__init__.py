"""theme screener: declarative stock screens and watchlists over theme universes.

The public library surface (the CLI is a thin layer over it). Names load lazily so that
`import screener` costs nothing until one is used.
"""

from __future__ import annotations

__all__ = [
    "Config",
    "InputError",
    "Problem",
    "Screen",
    "ScreenResult",
    "backtest",
    "check_rules",
    "explain",
    "load_config",
    "load_rule",
    "load_snapshot",
    "run_screen",
    "screen",
]

_WHERE = {
    "Config": "screener.config",
    "load_config": "screener.config",
    "InputError": "screener.problems",
    "Problem": "screener.problems",
    "Screen": "screener.rules.rule",
    "load_rule": "screener.rules.rule",
    "ScreenResult": "screener.engine.screen",
    "run_screen": "screener.engine.screen",
    "check_rules": "screener.api",
    "explain": "screener.api",
    "load_snapshot": "screener.data.snapshot",
    "backtest": "screener.notebook",
    "screen": "screener.notebook",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'screener' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
