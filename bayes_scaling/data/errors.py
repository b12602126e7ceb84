"""Errors raised on bad input data, before any model is built or anything is written."""

from __future__ import annotations


class DataError(ValueError):
    """Input data that cannot be used, with where the problem is and how to fix it.

    Parameters
    ----------
    source : str
        File path or dataset name.
    problem : str
        What is wrong.
    fix : str
        What the user should do.
    column, row : optional
        Column name and 1-based data row (the file line is ``row + 1`` for a CSV with a header).
    """

    def __init__(self, source: str, problem: str, fix: str, *, column: str | None = None, row: int | None = None):
        self.source, self.problem, self.fix, self.column, self.row = source, problem, fix, column, row
        where = [str(source)]
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row} (line {row + 1} of the file)")
        super().__init__(f"{', '.join(where)}: {problem}. Fix: {fix}")


class DataNotFound(DataError):
    """A registered dataset that is neither in $BAYES_SCALING_DATA, nor cached, nor downloadable."""


class ChecksumMismatch(DataError):
    """A file whose sha256 differs from the one pinned in the registry; it is refused."""
