"""The rule language: TOML rule files, expressions, the field catalogue and grades."""
