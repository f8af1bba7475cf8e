"""Saving and loading models in formats that load without executing code.

scikit-learn objects go through skops, loaded with an explicit list of trusted types
(never ``trusted=True`` and never pickle); XGBoost boosters use XGBoost's own format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import skops.io as sio

from modellab.errors import InvalidInputError

# Only scikit-learn's and numpy's own types may be rebuilt from a skops file.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "collections.", "modellab_tabular.")


def save_sklearn(obj: Any, path: Path) -> None:
    """Write a scikit-learn object with skops."""
    sio.dump(obj, path)


def load_sklearn(path: Path) -> Any:
    """Load a skops file, refusing any type outside scikit-learn, numpy and ModelLab."""
    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise InvalidInputError(f"{path}: refusing to load types {', '.join(sorted(refused))}")
    return sio.load(path, trusted=untrusted)
