"""Live data providers (optional): AKShare and yfinance, behind a transport seam.

`refresh` merges what they fetch into a snapshot folder (`screener data refresh`). The vendor
packages are the `[live]` extra and are imported only when a provider first calls out; without
them a provider raises `ProviderUnavailable` whose message is the install command.
"""

from screener.data.providers.base import (
    INSTALL_HINT, Fetched, ProviderError, ProviderUnavailable, RateLimiter, Transport, with_retries,
)

__all__ = [
    "INSTALL_HINT", "Fetched", "ProviderError", "ProviderUnavailable", "RateLimiter", "Transport", "with_retries",
    "AkshareProvider", "YfinanceProvider", "RefreshReport",
]
# the refresh function lives in `screener.data.providers.refresh` (a module of the same name would
# shadow a package-level alias): `from screener.data.providers.refresh import refresh`


def __getattr__(name):  # lazy: importing the package stays cheap (no polars/pandas until used)
    if name == "AkshareProvider":
        from screener.data.providers.akshare_provider import AkshareProvider

        return AkshareProvider
    if name == "YfinanceProvider":
        from screener.data.providers.yfinance_provider import YfinanceProvider

        return YfinanceProvider
    if name == "RefreshReport":
        from screener.data.providers.refresh import RefreshReport

        return RefreshReport
    raise AttributeError(name)
