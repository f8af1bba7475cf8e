"""Entity-like query terms: how much of a query names a thing (a model number, an
acronym, a proper noun) rather than describing it.

Retrievers that match terms serve such queries differently from ones that match meaning,
which is why the share of entity-like terms is a slice worth having. Capital letters are
evidence only where the queries use both cases: in a collection written all in capitals
(Vaswani's) or all in lower case they say nothing, and only terms with digits count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_TERM = re.compile(r"[^\W_]+")
#: queries whose terms are more than this share entity-like are entity-dense
DENSE_SHARE = 0.5


def cased(texts: Sequence[str]) -> bool:
    """Whether capitals carry information: some query holds both upper- and lower-case
    letters."""
    return any(t != t.upper() and t != t.lower() for t in texts)


def _entity_like(term: str, first: bool, use_case: bool) -> bool:
    if any(c.isdigit() for c in term):
        return True
    if not use_case:
        return False
    # A query's first word is capitalised by writing habit, not because it names
    # something.
    # An acronym is all capitals wherever it stands; "I" is neither.
    if len(term) < 2:
        return False
    return term.isupper() or (not first and term[0].isupper())


def entity_shares(texts: Sequence[str]) -> tuple[NDArray[np.float64], str]:
    """Each text's share of entity-like terms, and the rule that decided them in words."""
    use_case = cased(texts)
    shares = np.zeros(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        terms = _TERM.findall(text)
        if terms:
            hits = sum(_entity_like(t, j == 0, use_case) for j, t in enumerate(terms))
            shares[i] = hits / len(terms)
    rule = (
        "terms with a digit, acronyms (two or more capitals) and capitalised words after the first"
        if use_case
        else "terms with a digit (the queries are written in one case, so capitals say nothing)"
    )
    return shares, rule
