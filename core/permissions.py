"""Everything ModelLab creates is its owner's only: folders 0700, files 0600.

The database, datasets, models and reports may hold other people's data; on a shared
machine another account must not read them. ModelLab's processes (every CLI command,
the server, the workers) set the umask once at start, so that every folder and file
they create, through any library, is owner-only.
"""

from __future__ import annotations

import os

#: new folders 0700, new files 0600
OWNER_ONLY = 0o077


def restrict_new_files() -> None:
    """Make every folder and file this process creates from now on owner-only."""
    os.umask(OWNER_ONLY)
