"""Export formats: one module per format, each with `render(ctx: ExportContext) -> bytes`."""
