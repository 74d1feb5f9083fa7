"""Pure analyses: DataFrames in, DataFrames out; no files, no plotting."""
