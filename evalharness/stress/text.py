"""Text corruptions for stress tests: typos, dropped words, truncation and case, seeded.

Words are whitespace-separated runs; a corruption changes a share of them and leaves the
rest of the text, spacing included, as it was. Every function takes its generator, so a
(scenario, severity) stream (:func:`evalharness.stress.runner.severity_rng`) corrupts the
same words of the same texts on every run.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_WORD = re.compile(r"\S+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _chosen(n: int, share: float, rng: np.random.Generator) -> set[int]:
    """``round(share * n)`` positions of ``n``, at least one when ``share > 0`` and
    ``n > 0``: a low severity on a short text must still change something."""
    if n == 0 or share <= 0:
        return set()
    k = min(n, max(1, round(share * n)))
    return {int(i) for i in rng.choice(n, size=k, replace=False)}


def _typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard slip: swap two neighbouring characters, delete, insert or replace
    one; a one-character word is replaced by another letter."""
    if len(word) == 1:
        return _LETTERS[int(rng.integers(len(_LETTERS)))]
    kind = int(rng.integers(4))
    i = int(rng.integers(len(word) - 1))
    letter = _LETTERS[int(rng.integers(len(_LETTERS)))]
    if word[i].isupper():
        letter = letter.upper()
    # Swapping two equal characters is no typo: replace one instead.
    if kind == 0 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + letter + word[i:]
    replaced = word[:i] + letter + word[i + 1 :]
    # A replacement by the same letter is no typo: take the next one.
    if replaced == word:
        nxt = _LETTERS[(_LETTERS.index(letter.lower()) + 1) % len(_LETTERS)]
        replaced = word[:i] + (nxt.upper() if letter.isupper() else nxt) + word[i + 1 :]
    return replaced


def typos(text: str, share: float, rng: np.random.Generator) -> str:
    """``text`` with one typo in each of a ``share`` of its words."""
    words = list(_WORD.finditer(text))
    hit = _chosen(len(words), share, rng)
    out, last = [], 0
    for j, m in enumerate(words):
        out.append(text[last : m.start()])
        out.append(_typo(m.group(), rng) if j in hit else m.group())
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def drop_words(text: str, share: float, rng: np.random.Generator) -> str:
    """``text`` without a ``share`` of its words, single-spaced; one word always stays
    (a query with no word left is no query)."""
    words = _WORD.findall(text)
    if len(words) <= 1:
        return text
    gone = _chosen(len(words), share, rng)
    if len(gone) == len(words):
        gone.discard(max(gone))
    return " ".join(w for j, w in enumerate(words) if j not in gone)


def truncate(text: str, share: float) -> str:
    """``text`` cut after its first words: a ``share`` of them gone from the end, one
    always left, single-spaced (a message cut off by a length limit)."""
    words = _WORD.findall(text)
    if len(words) <= 1:
        return text
    keep = max(1, len(words) - round(share * len(words)))
    return " ".join(words[:keep])


#: the text stress scenarios and what their severity means
TEXT_SCENARIOS = {
    "text_typos": "severity = share of each text's words given one typo",
    "text_dropped_words": "severity = share of each text's words dropped (one always stays)",
    "text_truncation": "severity = share of each text's words cut from its end (one stays)",
    "text_case": "severity = share of texts written in capital letters",
}


def corrupt_texts(
    texts: pd.Series, scenario: str, severity: float, rng: np.random.Generator
) -> pd.Series:
    """``texts`` under one of :data:`TEXT_SCENARIOS` at ``severity``; missing cells stay
    missing. Every cell draws from ``rng`` in row order, so a (scenario, severity) stream
    corrupts the same words on every run."""
    values = texts.tolist()
    if scenario == "text_case":
        chosen = rng.random(len(values)) < severity
        out = [
            v.upper() if hit and isinstance(v, str) else v
            for v, hit in zip(values, chosen, strict=True)
        ]
    elif scenario == "text_typos":
        out = [typos(v, severity, rng) if isinstance(v, str) else v for v in values]
    elif scenario == "text_dropped_words":
        out = [drop_words(v, severity, rng) if isinstance(v, str) else v for v in values]
    elif scenario == "text_truncation":
        out = [truncate(v, severity) if isinstance(v, str) else v for v in values]
    else:
        raise ValueError(f"unknown text stress scenario {scenario!r}")
    return pd.Series(out, index=texts.index, name=texts.name, dtype=object)
