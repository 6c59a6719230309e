"""JSON: DESIGN.md's `run --json` shape, plus its schema and engine versions, the previous
watchlist of a buffered rule, and what changed since the run it is compared with
(`export.json_payload`, which `run --json` writes too). Above `[export] json_excluded_max`
excluded members, the export leaves them out (`excluded: null`, `excluded_count`); `run --json`
stays complete."""

from __future__ import annotations

from screener.outputs.report import dumps_payload_bytes


def render(ctx) -> bytes:
    from screener.outputs.export import json_payload

    return dumps_payload_bytes(json_payload(ctx, ctx.json_excluded_max)) + b"\n"
