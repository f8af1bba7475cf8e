"""Hook implementations of the ranking plugin (entry point ``ranking``).

Ranking registers nothing yet; it is installed and discovered so that the
entry-point path is exercised for every built-in distribution.
"""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import Template


@hookimpl
def register_templates() -> list[Template]:
    """No ranking templates yet."""
    return []
