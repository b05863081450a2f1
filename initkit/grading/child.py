"""The sandboxed child: runs a notebook's code cells, then answers data-only requests.

Started by :mod:`initkit.grading.sandbox` as ``python -I child.py REQ_FD REPLY_FD`` in a fresh
interpreter, or forked from the pre-warmed template (:mod:`initkit.grading.zygote`), inside
an empty temporary directory, as an unprivileged user, under resource limits. It loads the
sibling ``protocol.py`` by path; whatever the student does to modules in this process, the
trusted side only ever receives data, validated on arrival.

Cells run as plain Python (``exec``, IPython-only lines commented out) or, with
``{"ipython": true}``, through IPython's ``InteractiveShell`` so magics work.

Conversation (all over the two dedicated pipes, never stdout, which the student owns):

1. trusted -> ``{"op": "run", "cells": [src, ...]}``
2. child -> ``{"event": "cell", "index": i}`` before each cell and
   ``{"event": "cell_done", "index": i, "error": null | {"type", "message"}}`` after it
   (every ``BaseException``, ``SystemExit`` and ``KeyboardInterrupt`` included, is the
   cell's error: later cells still run, as nbgrader's ``allow_errors`` does);
3. child -> ``{"event": "ready"}``, then for each request ``{"op": "call" | "probe" | "get"
   | "has" | "figures", ...}`` one reply ``{"ok": true, "value": tree}`` or
   ``{"ok": false, "error": {"type", "message"}}`` (:func:`serve`; ``probe`` is
   :func:`_probe`).
"""

import importlib.util
import os
import sys
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load_protocol():
    spec = importlib.util.spec_from_file_location("_initkit_protocol",
                                                  os.path.join(_HERE, "protocol.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Missing(Exception):
    """The requested name is not in the notebook's namespace."""


def _describe(exc: BaseException) -> dict:
    try:
        message = str(exc)[:2000]
    except BaseException:  # a rigged __str__
        message = "<unprintable exception>"
    return {"type": type(exc).__name__, "message": message}


def _strip_magics(src: str) -> str:
    """Comment out IPython-only lines (``%magic``, ``!shell``) for plain execution."""
    if src.lstrip().startswith("%%"):
        return "# " + src.replace("\n", "\n# ")
    lines = []
    for line in src.splitlines():
        stripped = line.lstrip()
        lines.append("# " + line if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _figures(protocol, ns=None):
    """Every open pyplot figure and every Figure the namespace names, as data.

    Figures held in variables count too: Jupyter's inline backend closes pyplot's figures
    after each cell, so under nbgrader ``fig`` is the only handle left.
    """
    if "matplotlib" not in sys.modules:
        return []
    import io

    from matplotlib.figure import Figure

    found = []
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        found = [plt.figure(num) for num in plt.get_fignums()]
    for value in list((ns or {}).values()):
        if isinstance(value, Figure) and all(value is not f for f in found):
            found.append(value)
    out = []
    for position, fig in enumerate(found, start=1):
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=60)
            png = buf.getvalue()
        except Exception:
            png = b""
        axes = []
        for ax in fig.get_axes():
            lines = [{"kind": "line", "x": line.get_xdata(orig=False),
                      "y": line.get_ydata(orig=False), "label": str(line.get_label())}
                     for line in ax.get_lines()]
            for coll in ax.collections:
                offsets = getattr(coll, "get_offsets", None)
                if offsets is None:
                    continue
                xy = offsets()
                if len(xy) == 0:
                    continue
                lines.append({"kind": "scatter", "x": xy[:, 0], "y": xy[:, 1],
                              "label": str(coll.get_label())})
            axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(),
                         "ylabel": ax.get_ylabel(), "xscale": ax.get_xscale(),
                         "yscale": ax.get_yscale(), "lines": lines})
        number = getattr(fig, "number", None)
        names = [k for k, v in (ns or {}).items() if v is fig and isinstance(k, str)]
        out.append({"number": int(number) if isinstance(number, int) else position,
                    "png": png, "axes": axes, "names": names})
    return out


def _plain_runner():
    """Plain execution: ``exec`` of each cell (IPython-only lines commented out)."""
    ns = {"__name__": "__main__", "__builtins__": __builtins__}

    def run_cell(src: str, index: int) -> None:
        exec(compile(_strip_magics(src), f"<cell {index}>", "exec"), ns)

    return run_cell, ns


def _ipython_runner():
    """Execution through IPython's ``InteractiveShell``, the Jupyter kernel's engine, so
    magics (``%time``, ``%%capture``, ``!cmd``) work; exceptions are re-raised as the cell's."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor")
    shell.showtraceback = lambda *a, **k: None  # the error is reported as data instead

    def run_cell(src: str, index: int) -> None:
        result = shell.run_cell(src, store_history=False, silent=False)
        err = result.error_before_exec or result.error_in_exec
        if err is not None:
            raise err

    return run_cell, shell.user_ns


def _builtins_keeper():
    """Snapshot ``builtins`` now; the returned function puts it back.

    Called after every cell and before every request, so ``builtins.isinstance = ...``
    in one cell cannot break this process's own code (json, the protocol) later on. Names
    the student shadows in the notebook's own namespace (``abs = ...``) stay theirs.
    """
    import builtins

    saved = dict(builtins.__dict__)
    module_dict = builtins.__dict__

    def restore() -> None:
        if module_dict != saved:
            module_dict.clear()
            module_dict.update(saved)

    return restore


def main(req_fd: int, reply_fd: int) -> None:
    """Run the cells named by the first request, then serve until the pipe closes."""
    protocol = _load_protocol()
    send = protocol.write_message
    restore_builtins = _builtins_keeper()

    header, _ = protocol.read_message(req_fd)
    cells = header.get("cells", [])
    sys.argv = ["notebook"]
    run_cell, ns = _ipython_runner() if header.get("ipython") else _plain_runner()
    for index, src in enumerate(cells):
        send(reply_fd, {"event": "cell", "index": index})
        error = None
        try:
            if isinstance(src, list):
                src = "".join(map(str, src))
            run_cell(str(src), index)
        except BaseException as exc:  # noqa: B036 - SystemExit etc. are cell errors too
            error = _describe(exc)
            try:
                sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            except BaseException:  # noqa: B036
                pass
        restore_builtins()
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: B036
            pass
        send(reply_fd, {"event": "cell_done", "index": index, "error": error})
    send(reply_fd, {"event": "ready"})

    while True:
        try:
            header, blobs = protocol.read_message(req_fd)
        except EOFError:
            return
        restore_builtins()
        data = serve(ns, header, blobs, protocol)
        restore_builtins()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: B036
            pass
        protocol.write_bytes(reply_fd, data)


def serve(ns: dict, header: dict, blobs: list, protocol) -> bytes:
    """Answer one request about the namespace ``ns``; return the packed reply.

    Shared by this child and the in-kernel transport of nbgrader's hidden cells
    (:mod:`initkit.course.bridge`), so both answer every op the same way.
    """
    op = header.get("op")
    try:
        if op in ("call", "probe"):
            args = protocol.materialize(protocol.decode(header.get("args", []), blobs))
            kwargs = protocol.materialize(
                protocol.decode(header.get("kwargs", {"$": "dict", "v": []}), blobs))
            func = _function(ns, header.get("name"))
            if op == "call":
                value = func(*args, **kwargs)
            else:
                value = _probe(ns, func, args, kwargs, header)
        elif op == "get":
            if header.get("name") not in ns:
                raise _Missing(header.get("name"))
            value = ns[header["name"]]
        elif op == "has":
            value = header["name"] in ns
        elif op == "figures":
            value = _figures(protocol, ns)
        else:
            raise ValueError(f"unknown op {op!r}")
        tree, out_blobs = protocol.encode(value)
        # packed here, so a value JSON refuses (an int of 5000 digits) is this call's error
        return protocol.pack({"ok": True, "value": tree}, out_blobs)
    except BaseException as exc:  # noqa: B036 - the student's function may sys.exit()
        if isinstance(exc, _Missing):
            reply = {"ok": False, "error": {"type": "NameError", "message":
                     f"name {header.get('name')!r} is not defined"}}
        else:
            reply = {"ok": False, "error": _describe(exc)}
        return protocol.pack(reply)


def _function(ns: dict, name):
    if name not in ns:
        raise _Missing(name)
    func = ns[name]
    if not callable(func):
        raise TypeError(f"{name!r} is not a function")
    return func


def _code_of(obj):
    """The code object a call of ``obj`` runs (functions, methods, decorated functions)."""
    import inspect

    try:
        obj = inspect.unwrap(obj)
    except ValueError:
        pass
    obj = getattr(obj, "__func__", obj)
    return getattr(obj, "__code__", None)


def _resolve(dotted: str):
    """``package.module.attr[.attr]`` -> the object, importing the longest module prefix."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot import {dotted!r}")


def _probe(ns: dict, func, args, kwargs, header: dict) -> dict:
    """Call ``func`` with some names hidden and some functions watched; report as data.

    ``hide``: names removed from the notebook's namespace during the call (nbgrader's
    "must call squares" check deletes ``squares``); ``spy``: notebook functions whose calls
    are counted; ``forbid``: dotted names of the kit's own implementations whose code must
    not run during the call (a student's ``xavier_normal`` that delegates to
    ``initkit.get_initializer("xavier_normal")`` runs it, however it got there). Calls are
    recognised by code object through ``sys.setprofile``, so aliases and registries do not
    hide them. An exception of the call is part of the answer, not a failed request.
    """
    hide = [n for n in header.get("hide", []) if isinstance(n, str)]
    spy = [n for n in header.get("spy", []) if isinstance(n, str)]
    watched = {}
    for name in spy:
        code = _code_of(ns.get(name))
        if code is not None:
            watched[code] = name
    counts = dict.fromkeys(spy, 0)
    forbidden_codes = {}
    for dotted in header.get("forbid", []):
        try:  # a name the kit no longer has cannot be delegated to: nothing to watch
            code = _code_of(_resolve(dotted)) if isinstance(dotted, str) else None
        except Exception:
            code = None
        if code is not None:
            forbidden_codes[code] = dotted
    used: list = []

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in watched:
                counts[watched[code]] += 1
            elif code in forbidden_codes and forbidden_codes[code] not in used:
                used.append(forbidden_codes[code])

    saved = {n: ns.pop(n) for n in hide if n in ns}
    value, error = None, None
    sys.setprofile(profile)
    try:
        value = func(*args, **kwargs)
    except BaseException as exc:  # noqa: B036 - the call's failure is the answer
        error = _describe(exc)
    finally:
        sys.setprofile(None)
        ns.update(saved)
    return {"value": value, "error": error, "calls": counts, "forbidden": used}


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
