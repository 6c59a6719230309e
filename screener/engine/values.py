"""Engine values in a form JSON and people read: one rule for explain, exports and history."""

from __future__ import annotations


def plain(v):
    """JSON-friendly value: floats rounded to 6 places, dates as ISO text, enums as text."""
    if isinstance(v, float):
        return round(v, 6)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, list):
        return list(v)
    return v
