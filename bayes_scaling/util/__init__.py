"""Small utilities with no other home: BLAS thread limits, atomic file writes, Dask task running."""
