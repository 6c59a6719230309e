"""JSON: DESIGN.md's `run --json` shape, plus what changed since the previous run."""

from __future__ import annotations

import json

from screener.report import result_payload


def render(ctx) -> bytes:
    payload = result_payload(ctx.result, ctx.generated_at)
    if ctx.changes is not None:
        payload["changes"] = ctx.changes.to_dict()
    return (json.dumps(payload, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
