"""The screen itself: point-in-time fields, filters, normalisation, ranking, verdicts."""
