"""A similarity screen: near-identical answers across students, for a person to look at.

Never a penalty: a pair is "flagged for review" and shown side by side. Only the solution
cells count, with the released scaffold taken out (``def f(shape, rng):`` is everybody's).
Each answer is reduced to a canonical token stream (Python's tokenizer: every name replaced
by its order of first appearance, every literal by ``#``, comments and layout dropped), so
renamed variables, edited comments and changed constants do not hide a copy (the idea behind
MOSS's fingerprints, Schleimer et al. 2003, without the winnowing). Two streams are compared
with :class:`difflib.SequenceMatcher`; a pair at or above ``threshold`` is flagged unless the
same answer is shared by more than ``max_group`` students: an answer many students arrive at
is the plain solution, not a copy.
"""

from __future__ import annotations

import io
import json
import keyword
import tokenize
from difflib import SequenceMatcher
from itertools import combinations
from pathlib import Path
from typing import Any

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENDMARKER, tokenize.ENCODING}


def canonical_tokens(source: str) -> list[str]:
    """The canonical token stream of ``source`` (unparsable code: its whitespace words)."""
    names: dict[str, str] = {}
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in _SKIP:
                continue
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                out.append(names.setdefault(tok.string, f"v{len(names)}"))
            elif tok.type in (tokenize.NUMBER, tokenize.STRING):
                out.append("#")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source.split()
    return out


def _cells(path: Path) -> dict[str, str]:
    """grade_id -> source of every solution code cell of a notebook."""
    try:
        nb = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return {}
    out = {}
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            src = cell.get("source", "")
            out[str(meta["grade_id"])] = "".join(src) if isinstance(src, list) else str(src)
    return out


def answer_tokens(answer: str, scaffold: str) -> list[str]:
    """The answer's canonical tokens with the scaffold's matching tokens taken out."""
    mine, given = canonical_tokens(answer), canonical_tokens(scaffold)
    keep = [True] * len(mine)
    for block in SequenceMatcher(None, given, mine, autojunk=False).get_matching_blocks():
        for i in range(block.b, block.b + block.size):
            keep[i] = False
    return [t for t, k in zip(mine, keep, strict=True) if k]


def screen(submissions: dict[str, Path], release: Path, *, threshold: float = 0.9,
           max_group: int = 3, min_tokens: int = 12) -> list[dict[str, Any]]:
    """Flagged pairs of one exercise, most similar first.

    Args:
        submissions: student -> their notebook.
        release: the released notebook (its solution cells are the scaffold).
        threshold: similarity (0..1) at which a pair is flagged.
        max_group: an answer shared by more students than this is not flagged.
        min_tokens: answers shorter than this (after the scaffold) are not compared.

    Returns:
        ``{"students": [a, b], "similarity": s, "cells": {grade_id: [a_src, b_src]}}`` each.
    """
    scaffold = _cells(release)
    sources = {s: _cells(p) for s, p in submissions.items()}
    streams = {s: [t for g in sorted(scaffold) for t in
                   answer_tokens(cells.get(g, ""), scaffold[g]) + ["|"]]
               for s, cells in sources.items()}
    streams = {s: t for s, t in streams.items() if len(t) - len(scaffold) >= min_tokens}
    similar: dict[tuple[str, str], float] = {}
    for a, b in combinations(sorted(streams), 2):
        matcher = SequenceMatcher(None, streams[a], streams[b], autojunk=False)
        if matcher.quick_ratio() >= threshold and (ratio := matcher.ratio()) >= threshold:
            similar[(a, b)] = ratio
    group = {s: 1 + sum(s in pair for pair in similar) for s in streams}
    flagged = [{"students": [a, b], "similarity": round(r, 4),
                "cells": {g: [sources[a].get(g, ""), sources[b].get(g, "")]
                          for g in sorted(scaffold)}}
               for (a, b), r in similar.items()
               if group[a] <= max_group and group[b] <= max_group]
    return sorted(flagged, key=lambda f: -f["similarity"])
