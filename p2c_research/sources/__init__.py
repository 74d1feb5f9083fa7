"""Adapters for the real publishers: each turns its raw format into the tidy panel.

One module per source, all with the same shape (``fetch`` -> raw cache ->
``parse`` -> ``to_panel``; ``load_cached`` re-reads the cache for ``data.build``):

* :mod:`~p2c_research.sources.worldbank` World Bank API v2 (``worldbank``)
* :mod:`~p2c_research.sources.sdg` UN SDG API v1 (``sdg``)
* :mod:`~p2c_research.sources.itu` ITU DataHub API and CSV exports (``itu``)
* :mod:`~p2c_research.sources.wdi_csv` WDI bulk and long files (``wdi-csv``), read by
  :mod:`~p2c_research.sources.wdi_files`
* :mod:`~p2c_research.sources.naturalearth` Natural Earth admin-0 (``naturalearth``)
* :mod:`~p2c_research.sources.pledges` P2C pledge exports (``pledges``)

:func:`p2c_research.sources.fetch.fetch_source` is the single entry point;
:mod:`~p2c_research.sources.http`, :mod:`~p2c_research.sources.rawcache` and
:mod:`~p2c_research.sources.paging` hold what the API adapters share.
"""
