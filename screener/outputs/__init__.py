"""What a run leaves behind: tables, exports in six formats, the run history, the terminal."""
