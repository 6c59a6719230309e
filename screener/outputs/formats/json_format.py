"""JSON: DESIGN.md's `run --json` shape, plus what changed since the previous run."""

from __future__ import annotations

from screener.outputs.report import dumps_payload, result_payload


def render(ctx) -> bytes:
    payload = result_payload(ctx.result, ctx.generated_at, for_writing=True)
    if ctx.changes is not None:
        payload["changes"] = ctx.changes.to_dict()
    return (dumps_payload(payload) + "\n").encode("utf-8")
