"""p2c-research: a research workbench for ITU Partner2Connect (P2C).

Three analyses per country -- landscape (360 diagnostic), benchmarking
regressions and pledge gap maps -- built on one tidy indicator panel.

Importing the package sets pandas' string storage to Python objects unless
the user chose one (see :mod:`p2c_research.pandas_options` for the measured
reason).
"""

from p2c_research.pandas_options import apply_string_storage

__version__ = "0.1.0"

apply_string_storage()
