"""The one process-wide pandas setting the workbench makes: Python-backed ``str`` columns.

pandas 3 stores ``str`` columns in pyarrow by default ("auto"). Our frames are
small (a few hundred economies by tens of indicators), and the reports touch
string columns many times in small pieces: ``isin``, ``map``, boolean masks,
row lookups, iteration. For each of those, pyarrow's per-call overhead
(``take``, building an array from a Python sequence, scalar access) costs more
than the work. With Python-backed strings the three reports' cells of a
country took 14% less CPU (7.45 against 8.66 s per country; three rounds of
the two storages side by side, 1.14-1.19x) and wrote byte-identical tables and
figures (``benchmarks/report_cpu.py`` measures it;
``tests/test_pandas_options.py`` checks the results match).

The dtype stays pandas' ``str`` (missing values are NaN either way); only its
storage changes. A storage the user chose before importing the package is
left alone: only the default "auto" is changed.
"""

from __future__ import annotations

import pandas as pd

#: What ``mode.string_storage`` is set to on import, unless the user chose one.
STRING_STORAGE = "python"


def apply_string_storage() -> str:
    """Use Python-backed ``str`` columns unless the user already chose a storage; returns it."""
    if pd.get_option("mode.string_storage") == "auto":
        pd.set_option("mode.string_storage", STRING_STORAGE)
    return str(pd.get_option("mode.string_storage"))
