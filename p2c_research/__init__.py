"""p2c-research: a research workbench for ITU Partner2Connect (P2C).

Three analyses per country -- landscape (360 diagnostic), benchmarking
regressions and pledge gap maps -- built on one tidy indicator panel.
Importing the package changes no setting of pandas, matplotlib or the process.
"""

__version__ = "0.1.0"
