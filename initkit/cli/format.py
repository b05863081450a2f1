"""The CLI's edge: plain-text tables out, ``KEY=VALUE`` and ``NAME:KEY=VALUE`` specs in.

Tables have no colour codes, so output pipes and diffs cleanly. Every command that names an
initializer (simulate, train, plot, animate, and any later one such as sweep) reads it with
:func:`parse_init_spec` / :func:`parse_init_specs`, so they all take the same form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import InitkitError

if TYPE_CHECKING:  # the registry imports the plugin manager; keep `initkit --help` light
    from ..registry import Initializer


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


_WORDS = {"true": True, "false": False, "none": None}


def parse_value(text: str) -> Any:
    """A number if ``text`` reads as one; ``true`` / ``false`` / ``none`` (any case) as
    True / False / None; else the text itself (``mode=fan_out``)."""
    try:
        return float(text)
    except ValueError:
        return _WORDS.get(text.strip().lower(), text)


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


#: The form of one initializer spec, as usage errors and --help show it.
INIT_SPEC_FORM = "NAME[:KEY=VALUE[:KEY=VALUE...]]"


def parse_init_spec(text: str, hint: str = "--init") -> tuple[Initializer, dict[str, Any]]:
    """``"constant:value=0.01"`` -> (the registered ``constant`` Initializer, {"value": 0.01}).

    The one parser of an initializer named on the command line: ``NAME`` is a registered
    name or alias (or ``PLUGIN:NAME``, a plugin-qualified one), each ``:KEY=VALUE`` one
    keyword parameter (values through
    :func:`parse_value`). The name and the parameters are checked here, before any work:

    Raises:
        click.BadParameter: an empty name or a pair that is not ``KEY=VALUE`` (exit 2,
            naming the option ``hint``).
        UnknownNameError: no plugin registered ``NAME`` (exit 1, with close matches).
        ParameterError: the initializer takes no such parameter (exit 1, listing its own).
    """
    from ..registry import get_initializer

    name, *pairs = (part.strip() for part in text.strip().split(":"))
    if pairs and "=" not in pairs[0]:  # PLUGIN:NAME, a plugin-qualified name
        try:
            get_initializer(f"{name}:{pairs[0]}")
            name, pairs = f"{name}:{pairs[0]}", pairs[1:]
        except InitkitError:
            pass  # not qualified: the usual KEY=VALUE usage error below
    if not name:
        raise click.BadParameter(f"{text!r} names no initializer; write {INIT_SPEC_FORM}",
                                 param_hint=hint)
    params = parse_params(pairs, hint, form=f"KEY=VALUE in {text!r} (write {INIT_SPEC_FORM})")
    initializer = get_initializer(name)
    initializer.check_params(params)
    return initializer, params


def split_init_specs(text: str, hint: str = "--inits") -> list[str]:
    """``"he, constant:value=0.5"`` -> ["he", "constant:value=0.5"] (a usage error if empty)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise click.BadParameter("give at least one initializer", param_hint=hint)
    return items


def parse_init_specs(text: str, hint: str = "--inits") -> list[tuple[Initializer, dict[str, Any]]]:
    """``"he,constant:value=0.5"`` -> [(he_normal, {}), (constant, {"value": 0.5})].

    Comma-separated :func:`parse_init_spec` items (:func:`split_init_specs`).
    """
    return [parse_init_spec(item, hint) for item in split_init_specs(text, hint)]


def spec_label(initializer: Initializer, params: dict[str, Any]) -> str:
    """``constant(value=0.01)``: an initializer and its parameters as one short label."""
    if not params:
        return initializer.name
    pairs = ", ".join(f"{k}={fmt_param(v)}" for k, v in params.items())
    return f"{initializer.name}({pairs})"


def fmt_param(value: Any) -> str:
    """A parameter as the user wrote it: ``0.01``, ``2``, ``fan_out``, ``True``."""
    return f"{value:g}" if isinstance(value, float) else str(value)
