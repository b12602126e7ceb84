"""Where PyTensor writes the Python source it generates for the functions it compiles.

By default each compiled function's source goes to a new file in the system temporary directory, which PyTensor
never removes: about 14 files a fit, over a thousand a report. :func:`keep_generated_source` points PyTensor's
``generated_src_dir`` at a folder beside its compile cache, where the files are named by their content, reused
across processes and pruned by PyTensor when unused for weeks. A directory the user set (``PYTENSOR_FLAGS``) is
left alone; a cache where the folder cannot be made keeps PyTensor's default.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: The folder, inside PyTensor's ``compiledir``, that holds the generated source.
FOLDER = "generated-src"


@functools.cache
def keep_generated_source() -> None:
    """Set PyTensor's ``generated_src_dir`` to :data:`FOLDER` in its ``compiledir`` unless it is already set."""
    import pytensor

    if pytensor.config.generated_src_dir:
        return
    folder = Path(pytensor.config.compiledir) / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only cache: PyTensor's default (the temporary directory) still works
        log.warning("cannot create %s (%s); PyTensor's generated source goes to the temporary directory", folder, err)
        return
    pytensor.config.generated_src_dir = str(folder)
    log.debug("PyTensor's generated source goes to %s", folder)
