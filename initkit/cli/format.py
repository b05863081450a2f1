"""Plain-text tables for the terminal (no colour codes, so output pipes and diffs cleanly)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import click


def fmt_number(value: Any, digits: int = 4) -> str:
    """Numbers as a reader wants them: fixed point in a sane range, else scientific."""
    if value is None:
        return "-"
    if isinstance(value, bool | str | int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "-"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-align text columns, right-align number columns, one header rule."""
    cells = [[c if isinstance(c, str) else fmt_number(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(not isinstance(r[i], str) for r in rows)
               for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in
                 zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def parse_value(text: str) -> Any:
    """A number if ``text`` reads as one, else the text."""
    try:
        return float(text)
    except ValueError:
        return text


def parse_params(pairs: Iterable[str], hint: str, form: str = "KEY=VALUE") -> dict[str, Any]:
    """``["value=0.5", "mode=fan_out"]`` -> {"value": 0.5, "mode": "fan_out"}.

    A pair without ``=`` or without a key is a usage error that names the option (``hint``)
    and the expected ``form``.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not {form}", param_hint=hint)
        params[key] = parse_value(text)
    return params
