"""The run context a notebook opens first: validated params, the data selection, the output folder.

Notebooks take four literal parameters (``country``, ``params_file``,
``data``, ``out_dir``) and hand them to :func:`open_context`; everything
derived from them is computed here, not in the parameters cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from p2c_research import countries
from p2c_research.catalog import Catalog, load_catalog
from p2c_research.datasets import DataSelection, load_panel, selection_for
from p2c_research.params import CountryParams, load_params
from p2c_research.render.images import install_png_formatter
from p2c_research.report_io import country_output_dir, report_header

NOTEBOOK_PARAMETERS = ("country", "params_file", "data", "out_dir")


@dataclass
class RunContext:
    params: CountryParams
    selection: DataSelection
    catalog: Catalog
    out_dir: Path

    @property
    def iso3(self) -> str:
        return self.params.country

    @property
    def country_dir(self) -> Path:
        return country_output_dir(self.out_dir, self.iso3)

    @property
    def panel(self) -> pd.DataFrame:
        return load_panel(self.selection)

    @property
    def screened_panel(self) -> pd.DataFrame:
        """The panel through the data-quality screen for this run's reference year (cached)."""
        from p2c_research import steps

        return steps.screened_panel(self.selection, self.catalog, self.params.reference_year)

    def benchmark(self):
        """The all-economy benchmark fits for this run's options (cached per data vintage)."""
        from p2c_research import steps

        return steps.params_benchmark(self.selection, self.catalog, self.params)

    def header(self, title: str, *, shows_pledges: bool = False) -> str:
        return report_header(self.params, self.selection, title, shows_pledges=shows_pledges)


def open_context(country: str, params_file: str = "", data: str = "auto",
                 out_dir: str = "outputs") -> RunContext:
    """Validate the parameters and resolve the data; raises a P2CError with the fix on bad input."""
    iso3 = countries.validate_iso3(country)
    params = load_params(iso3, params_file or None)
    selection = selection_for(data, params.data.choice, params.data.itu)
    install_png_formatter(params.output.figure_dpi)
    return RunContext(params=params, selection=selection, catalog=load_catalog(),
                      out_dir=Path(out_dir))
