"""Free text as failure examples show it: one text per row, cut to a readable length."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

#: characters of a text cell a failure example keeps; a longer one is cut, its length said
MAX_TEXT_CHARS = 280


def cut_text(text: str) -> str:
    """``text``, or its first :data:`MAX_TEXT_CHARS` characters and its length: a failure
    example names the text it failed on, not a page of it."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return f"{text[:MAX_TEXT_CHARS]}… [{len(text):,} characters]"


def joined_texts(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One text per row of ``frame``: its ``columns`` joined by a space, missing cells empty."""
    parts = [frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in columns]
    if not parts:
        return [""] * len(frame)
    out = parts[0]
    for p in parts[1:]:
        out = out + " " + p
    return [str(t) for t in out.tolist()]
