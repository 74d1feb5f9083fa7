"""Running the notebooks: papermill per notebook, Dask for many countries, reports and manifest.

The runner knows notebooks only by path and parameters; it never imports the
analyses (architecture rule), except through the shared-work hooks that warm
the all-country cache once per batch.
"""
