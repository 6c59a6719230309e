"""Inputs: snapshot files and their checks, universes, symbols, vendor imports, live providers."""
