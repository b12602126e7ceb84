"""Datasets: the registry of published run data, loading, validation, units and filters."""

from bayes_scaling.data.errors import ChecksumMismatch, DataError, DataNotFound
from bayes_scaling.data.registry import DatasetEntry, get_dataset, load_registry
from bayes_scaling.data.runs import RunTable, validate_table

__all__ = [
    "ChecksumMismatch",
    "DataError",
    "DataNotFound",
    "DatasetEntry",
    "RunTable",
    "get_dataset",
    "load_registry",
    "validate_table",
]
