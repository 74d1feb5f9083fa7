"""Errors meant for the user: each names the file, the row or key, and the fix.

Every error the workbench raises on bad input derives from :class:`P2CError`,
so the command line can print the message without a traceback.
"""

from __future__ import annotations


class P2CError(Exception):
    """Base class for user-facing errors (bad input, missing data, failed fetch)."""


class UnknownCountryError(P2CError, ValueError):
    """A country code that is not an ISO3 economy in the reference list."""


class ParamsError(P2CError, ValueError):
    """A parameters YAML that is malformed, has an unknown key or a bad value."""


class CatalogError(P2CError, ValueError):
    """The indicator catalog failed validation."""


class DataError(P2CError, ValueError):
    """A data file or frame that does not match its documented schema."""


class SourceError(P2CError, RuntimeError):
    """A remote source failed (HTTP error, error envelope, time-out)."""


class NoDataError(P2CError, LookupError):
    """A country or indicator has no data at all in the chosen panel."""


class WriteError(P2CError, OSError):
    """A file could not be written (disk full, read-only folder, no permission).

    Also an ``OSError``, so code that already handles failed writes keeps doing so.
    """
