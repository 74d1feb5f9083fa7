"""Publisher units to catalog units: counts per person, prices as a share of income, speeds.

Publishers report some series in a unit the catalog cannot score across
economies: a count of subscriptions, a bandwidth in Mbit/s for a whole
country, a basket price in US$, a throughput whose unit label is wrong.
The catalog names, per publisher code, how such a value becomes the
indicator's unit (:class:`p2c_research.catalog.Conversion`); this module is
the one place that arithmetic happens, for every adapter and the sample
builder alike. Denominators come from a *context* panel (World Bank
population, Internet users and GNI per capita of the same economy and year);
a value without its denominator is dropped and counted, never guessed.

Methods (``scale`` multiplies the result):

* ``per_population``: value / population (WDI ``SP.POP.TOTL``).
* ``per_internet_user``: value / (population x Internet users % / 100)
  (WDI ``SP.POP.TOTL`` and ``IT.NET.USER.ZS``).
* ``share_of_monthly_gni_pc``: a monthly US$ price / (GNI per capita, Atlas
  US$, / 12), with ``scale`` 100 for a percentage (WDI ``NY.GNP.PCAP.CD``).
* ``throughput_mbps``: a download throughput to Mbit/s. ITU's export labels
  the series "bits", but economies report in bit/s, kbit/s or Mbit/s. A data
  note naming the unit decides ("kbit/s", "Mbps"); otherwise the magnitude
  does: at least 100,000 is bit/s, 2,000 to 100,000 is kbit/s, below 2,000 is
  Mbit/s. Results outside :data:`THROUGHPUT_PLAUSIBLE_MBPS` are dropped as
  unit errors (e.g. 2.2e13 "bits").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from p2c_research.catalog import Catalog, Conversion

# Catalog ids of the context series the conversions divide by.
CONTEXT_IDS: dict[str, tuple[str, ...]] = {
    "per_population": ("population",),
    "per_internet_user": ("population", "internet_users"),
    "share_of_monthly_gni_pc": ("gni_pc",),
    "throughput_mbps": (),
}
THROUGHPUT_PLAUSIBLE_MBPS = (0.1, 2000.0)
_KBIT = re.compile(r"(?<![a-z])k(?:bit|bps|b/s|ilobit)", re.IGNORECASE)
_MBIT = re.compile(r"(?<![a-z])m(?:bit|bps|b/s|egabit)|(?<![a-z])mb\b", re.IGNORECASE)


def throughput_to_mbps(values: pd.Series, notes: pd.Series | None = None) -> pd.Series:
    """Download throughputs in mixed units to Mbit/s (rule in the module docstring).

    Returns NaN for zero, negative and implausible values.
    """
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    text = (notes if notes is not None else pd.Series("", index=v.index)).fillna("").astype(str)
    by_magnitude = np.select([v >= 1e5, v >= 2000], [v / 1e6, v / 1e3], default=v)
    out = np.where(text.str.contains(_KBIT), v / 1e3,
                   np.where(text.str.contains(_MBIT), v, by_magnitude))
    lo, hi = THROUGHPUT_PLAUSIBLE_MBPS
    out = np.where((v > 0) & (out >= lo) & (out <= hi), out, np.nan)
    return pd.Series(out, index=v.index, dtype="float64")


def _context_lookup(context: pd.DataFrame, indicator: str) -> pd.Series:
    part = context[context["indicator"] == indicator]
    return part.drop_duplicates(["iso3", "year"]).set_index(["iso3", "year"])["value"]


def _context_source(context: pd.DataFrame, indicator: str) -> str:
    part = context.loc[context["indicator"] == indicator, "source"]
    return str(part.mode().iloc[0]) if not part.empty else indicator


def denominator(method: str, context: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """The denominator of ``method`` for each ``iso3, year`` row of ``keys`` (NaN where missing)."""
    index = pd.MultiIndex.from_frame(keys[["iso3", "year"]])

    def get(indicator: str) -> np.ndarray:
        return _context_lookup(context, indicator).reindex(index).to_numpy(dtype="float64")

    if method == "per_population":
        return get("population")
    if method == "per_internet_user":
        return get("population") * get("internet_users") / 100.0
    if method == "share_of_monthly_gni_pc":
        return get("gni_pc") / 12.0
    raise ValueError(f"method {method!r} has no denominator")


def convert(rows: pd.DataFrame, conversion: Conversion, context: pd.DataFrame) -> pd.DataFrame:
    """Convert one code's rows (``iso3, year, value, source`` [, ``note``]) to the catalog unit.

    The ``source`` of each converted row names the denominator too, e.g.
    ``itu_datahub_csv:i271mw per wdi_file:SP.POP.TOTL``. Rows whose
    denominator is missing, zero or negative, and rows the method rejects,
    are dropped.
    """
    out = rows.copy()
    if conversion.method == "throughput_mbps":
        out["value"] = throughput_to_mbps(out["value"], out.get("note")) * conversion.scale
        return out[out["value"].notna()]
    denom = denominator(conversion.method, context, out)
    denom = np.where(denom > 0, denom, np.nan)
    out["value"] = out["value"].to_numpy(dtype="float64") / denom * conversion.scale
    used = " and ".join(_context_source(context, i) for i in CONTEXT_IDS[conversion.method])
    per = "per monthly " if conversion.method == "share_of_monthly_gni_pc" else "per "
    out["source"] = out["source"].astype(str) + f" {per}{used}"
    return out[out["value"].notna()]


def to_catalog_values(
    raw: pd.DataFrame,
    publisher: str,
    catalog: Catalog,
    context: pd.DataFrame | None = None,
    messages: list[str] | None = None,
) -> pd.DataFrame:
    """Publisher rows (``iso3, code, year, value, source`` [, ``note``]) -> tidy catalog rows.

    Each code maps to its catalog id; the catalog's conversions are applied
    (a code that needs a denominator is skipped, with a message, when the
    context lacks it); zeros are dropped for indicators that mark zero as "not
    available"; then, per economy-year, the indicator's first listed code with
    a value wins.

    Returns:
        ``iso3, indicator, year, value, source``.
    """
    messages = messages if messages is not None else []
    code_map = catalog.code_map(publisher)  # type: ignore[arg-type]
    raw = raw[raw["code"].isin(code_map)]
    if raw.empty:
        return pd.DataFrame(columns=["iso3", "indicator", "year", "value", "source"])
    context = context if context is not None else pd.DataFrame(
        columns=["iso3", "indicator", "year", "value", "source"])
    have = set(context["indicator"].unique())
    frames = []
    for code, part in raw.groupby("code", sort=False):
        ind = catalog[code_map[code]]
        conv = ind.convert.get(str(code))
        if ind.zero_is_missing:
            part = part[part["value"] != 0]
        if conv is not None:
            missing = [c for c in CONTEXT_IDS[conv.method] if c not in have]
            if missing:
                messages.append(f"{code} ({ind.id}) not converted: the context data lacks "
                                f"{', '.join(missing)}")
                continue
            before = len(part)
            part = convert(part, conv, context)
            dropped = before - len(part)
            if dropped:
                messages.append(f"{code} ({ind.id}): {dropped} value(s) dropped in the "
                                f"conversion ({conv.method}: denominator missing or value "
                                "implausible)")
        frames.append(part.assign(indicator=ind.id,
                                  _rank=ind.codes(publisher).index(str(code))))  # type: ignore[arg-type]
    if not frames:
        return pd.DataFrame(columns=["iso3", "indicator", "year", "value", "source"])
    rows = pd.concat(frames, ignore_index=True).sort_values("_rank", kind="stable")
    rows = rows.drop_duplicates(["iso3", "indicator", "year"], keep="first")
    return rows[["iso3", "indicator", "year", "value", "source"]].reset_index(drop=True)
