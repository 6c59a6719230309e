"""Work a backtest does that does not depend on the whole rule, done once and shared: every
backtest runs through one `SharedWork`, and a sweep (`screener.sweep`) hands the same one to every
variant it runs in a process, so fields derived at a date are derived once per distinct set of
fields, not once per variant.

What is shared, and keyed by what:
- the universes (by their names) and their membership dating;
- p(X) and the forward returns of every security over every period (by the dates);
- the rows each date's derive reads (`derive.rows_read`, by the set of fields the rule reads);
- the fields derived at each date (`derive.derive_fields`, by universes, field set and date): a
  variant that changes weights, `top`, `keep` or `normalize` reads the same fields; one whose
  filter or score expression reads another field gets its own;
- the filters and normalised components at each date (`engine.screen.score_components`, by the
  universes, field set, filters, pins, the components' definitions without their weights, and the
  date): a variant of weights, `top`, `keep` or `per` only ranks again;
- a score component's IC at a date (by the filters, the pins used, the component's definition
  and the date): the component's normalised value does not depend on weights, `top` or `keep`.

Everything here is a pure function of its key, so sharing can never change a number: a test runs
the same backtest with a fresh and with a used `SharedWork` and compares.
"""

from __future__ import annotations

from datetime import date

import polars as pl


class SharedWork:
    """Caches for backtests over `dates` on one in-memory `snapshot` with one `config`."""

    def __init__(self, config, snapshot, dates: list[date]):
        self.config = config
        self.snapshot = snapshot
        self.dates = list(dates)
        self._universes: dict = {}
        self._dating: dict = {}
        self._returns = None
        self._rows: dict = {}
        self._fields: dict = {}
        self.component_ic: dict = {}
        self._scored: dict = {}
        self.derived = 0  # how many (field set, date) derives ran: for tests and benches

    def fits(self, config, snapshot, dates) -> bool:
        return self.config == config and self.snapshot.fingerprint == snapshot.fingerprint and self.dates == list(dates)

    def universes(self, names: tuple[str, ...]):
        from screener.data.snapshot import load_universes

        if names not in self._universes:
            self._universes[names] = load_universes(self.config.universes_dir, names, self.config.display)
        return self._universes[names]

    def dating(self, names: tuple[str, ...]):
        from screener.data.snapshot import membership_dating

        if names not in self._dating:
            self._dating[names] = membership_dating(self.config.universes_dir, names, self.config.display)
        return self._dating[names]

    def returns(self) -> dict[date, pl.DataFrame]:
        from screener.backtesting.run import _forward_returns
        from screener.engine.derive import price_at

        if self._returns is None:
            prices = self.snapshot.get("prices")
            self._returns = _forward_returns(price_at(prices, self.dates, known=date.max).collect(), self.dates)
        return self._returns

    def fields(self, names: tuple[str, ...], needed: frozenset[str], d: date) -> pl.DataFrame:
        """The fields the rule reads (`needed`), derived as of `d` for the members of `names` at `d`."""
        from screener.data.snapshot import union_members
        from screener.engine.derive import derive_fields, rows_read

        key = (names, needed, d)
        if key not in self._fields:
            if needed not in self._rows:
                self._rows[needed] = rows_read(self.snapshot, self.dates[:-1], set(needed))
            members = union_members(self.universes(names), d)
            # a date reads a few rows per security: polars' in-memory engine runs such small
            # queries in half the time of its default streaming engine
            with pl.Config(engine_affinity="in-memory"):
                self._fields[key] = derive_fields(members, self._rows[needed][d], d, self.config.esg_raters,
                                                  self.config.exposure_scores, set(needed)).collect()
            self.derived += 1
        return self._fields[key]

    def scored(self, key, make) -> pl.DataFrame:
        """`make()` (a collected `score_components` frame) once per key."""
        if key not in self._scored:
            self._scored[key] = make()
        return self._scored[key]
