"""Output safety: text that a spreadsheet would execute is neutralised; paths stay inside the
output folder."""

from __future__ import annotations

import re
from pathlib import Path

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Prefix a `'` to text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR
    first). Only for text cells: numbers are written as numbers and stay untouched."""
    return "'" + text if text.startswith(_FORMULA_START) else text


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_component(name: str) -> str:
    """A single path component made from user text: no separators, no leading dots, never empty."""
    cleaned = _UNSAFE.sub("_", name).lstrip(".") or "rule"
    return cleaned[:100]


def inside(folder: Path, target: Path) -> Path:
    """`target`, after checking that it resolves inside `folder` (raises ValueError otherwise)."""
    root = folder.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"{target} is outside {folder}")
    return target
