"""Pixels and PNGs: how a report figure becomes an image, once and cheaply.

Below :mod:`p2c_research.figures` (which draws results) and above nothing of
the package's analysis: one draw per figure cropped to its ink
(:mod:`~p2c_research.render.raster`), shared figure bases with a country's
overlay (:mod:`~p2c_research.render.layers`), a process-wide text cache fenced
to the matplotlib versions it was checked on
(:mod:`~p2c_research.render.text_cache`), pooled trend grids
(:mod:`~p2c_research.render.reuse`) and the images reports display and save
(:mod:`~p2c_research.render.images`).
"""
