"""The sandboxed child: runs a notebook's code cells, then answers data-only requests.

Started by :mod:`initkit.grading.sandbox` as ``python -I child.py REQ_FD REPLY_FD`` in a fresh
interpreter, or forked from the pre-warmed template (:mod:`initkit.grading.zygote`), inside
an empty temporary directory, as an unprivileged user, under resource limits. It loads the
sibling ``protocol.py`` by path; whatever the student does to modules in this process, the
trusted side only ever receives data, validated on arrival.

Cells run as in a Jupyter notebook, and only so: through IPython's ``InteractiveShell``
with the inline matplotlib backend, set up as ipykernel sets it up (:func:`_notebook_runner`).

Conversation (all over the two dedicated pipes, never stdout, which the student owns):

1. trusted -> ``{"op": "run", "cells": [src, ...]}``
2. child -> ``{"event": "cell", "index": i}`` before each cell and
   ``{"event": "cell_done", "index": i, "error": null | {"type", "message"}}`` after it
   (every ``BaseException``, ``SystemExit`` and ``KeyboardInterrupt`` included, is the
   cell's error: later cells still run, as nbgrader's ``allow_errors`` does);
3. child -> ``{"event": "ready"}``, then for each request ``{"op": "call" | "calls" |
   "probe" | "get" | "has" | "figures" | "png", ...}`` one reply ``{"ok": true, "value": tree}`` or
   ``{"ok": false, "error": {"type", "message"}}`` (:func:`serve`; ``probe`` is
   :func:`_probe`).
"""

import importlib.util
import os
import sys
import time
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))
_clock = time.perf_counter


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


#: The figures of the last ``figures`` answer, so a ``png`` request names one by position.
_LISTED: list = []


def _open_figures(ns=None) -> list:
    """Every open pyplot figure and every Figure the namespace names, in a fixed order.

    Figures held in variables count too: the inline backend closes pyplot's figures after
    each cell (here as in Jupyter), so ``fig`` is usually the only handle left.
    """
    if "matplotlib" not in sys.modules:
        return []
    from matplotlib.figure import Figure

    found = []
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        found = [plt.figure(num) for num in plt.get_fignums()]
    for value in list((ns or {}).values()):
        if isinstance(value, Figure) and all(value is not f for f in found):
            found.append(value)
    return found


def _figures(ns=None) -> list:
    """The figures (:func:`_open_figures`) as data: axes, series, the names that hold them.

    No pixels: drawing a figure costs more than reading its data, and most checks read
    only the data; :func:`_png` draws one when a check asks for its image.
    """
    found = _open_figures(ns)
    _LISTED[:] = found
    out = []
    for position, fig in enumerate(found, start=1):
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
                    "axes": axes, "names": names})
    return out


def _png(ns, index) -> bytes:
    """The PNG image (60 dpi) of the ``index``-th figure of the last :func:`_figures`
    answer (listed again first in a child that has not listed them: a restarted one);
    empty bytes when there is no such figure or it cannot be drawn."""
    import io

    if not _LISTED:
        _figures(ns)
    if type(index) is not int or not 0 <= index < len(_LISTED):
        return b""
    buf = io.BytesIO()
    try:
        _LISTED[index].savefig(buf, format="png", dpi=60)
    except Exception:
        return b""
    return buf.getvalue()


#: The matplotlib backend of a notebook kernel (ipykernel's kernelapp sets MPLBACKEND to it).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _shell_class():
    """``InteractiveShell`` as ipykernel's ``ZMQInteractiveShell`` specialises it, minus the
    messaging: errors are kept as the cell's (data) instead of printed as tracebacks, and
    the inline backend needs no GUI event loop (ipykernel's ``loop_map["inline"]`` is None)."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell

    class _ResultHook(DisplayHook):
        """A cell's result (``Out[n]``, ``_``) as a kernel keeps it; its text goes to stdout
        without a prompt (a kernel sends it as ``execute_result``)."""

        def write_output_prompt(self) -> None:
            pass

    class NotebookShell(InteractiveShell):
        """The shell of one notebook; :attr:`reported` is the exception a cell showed."""

        reported: BaseException | None = None

        def _record(self, exc_tuple=None) -> None:
            try:
                value = self._get_exc_info(exc_tuple)[1]
            except ValueError:  # no exception to show
                return
            if self.reported is None:
                self.reported = value

        def showtraceback(self, exc_tuple=None, *args, **kwargs) -> None:
            self._record(exc_tuple)

        def showsyntaxerror(self, *args, **kwargs) -> None:
            self._record()

        def showindentationerror(self) -> None:
            self._record()

        def enable_gui(self, gui=None) -> None:
            """``%matplotlib inline`` selects no event loop (as in ipykernel)."""

        def init_virtualenv(self) -> None:
            """No virtualenv warning: the interpreter is the grading one."""

    NotebookShell.displayhook_class = _ResultHook
    return NotebookShell


def _ipython_dir() -> str:
    """``$HOME/.ipython`` as in a kernel (HOME is the working directory's tmpfs), else a
    private temporary directory: never a read-only or shared location."""
    import tempfile

    home = os.environ.get("HOME") or os.getcwd()
    path = os.path.join(home, ".ipython")
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="ipython-")


#: The notebook's shell and the protocol module when the template made them before forking
#: (:func:`prepare`); None: each child makes its own.
_PREBUILT = None
_PROTOCOL = None


def _new_shell():
    """IPython's shell as :func:`_notebook_runner` describes it, built in this process."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "nocolor"
        config.InteractiveShell.separate_in = ""
        config.InteractiveShell.separate_out = ""
        config.InteractiveShell.separate_out2 = ""
        shell = _shell_class().instance(config=config, ipython_dir=_ipython_dir())
        # a kernel computes every mime type for the frontend; here nobody looks at the
        # images, so only text/plain is formatted (figures are read as data at the end)
        shell.display_formatter.active_types = ["text/plain"]
        if "matplotlib" in sys.modules:  # pre-imported by the template: switch it now;
            # else importing the backend module does it, as in a kernel (its MPLBACKEND)
            from IPython.core.pylabtools import activate_matplotlib
            from matplotlib_inline.backend_inline import configure_inline_support

            activate_matplotlib(INLINE_BACKEND)
            configure_inline_support(shell, INLINE_BACKEND)
    return shell


def prepare() -> None:
    """Build the notebook's shell and load the protocol once, in the template, before any
    fork.

    Constructing IPython's shell (magics, completer, formatters, hooks) costs a child
    30-60 ms, compiling ``protocol.py`` a few more; done here, every child starts with a
    copy-on-write copy of pristine ones, and :func:`_notebook_runner` re-homes the shell to
    the child's own folders before the first cell. Nothing of one child's shell reaches
    another: each is its own process's copy.
    """
    global _PREBUILT, _PROTOCOL
    _PROTOCOL = _load_protocol()
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    _PREBUILT = _new_shell()


def _rehome(shell) -> None:
    """Point a shell built in the template at this child's home and working directory:
    the profile under ``$HOME/.ipython``, ``%cd``'s home, and ``_dh``."""
    from pathlib import Path

    from IPython.core.profiledir import ProfileDir
    from IPython.utils.path import get_home_dir

    shell.ipython_dir = _ipython_dir()
    shell.profile_dir = ProfileDir.create_profile_dir_by_name(shell.ipython_dir, "default")
    shell.home_dir = get_home_dir()
    if shell.history_manager is not None:
        shell.history_manager.dir_hist[:] = [Path.cwd()]


def _notebook_runner():
    """Cells run as in a Jupyter notebook's kernel: IPython's ``InteractiveShell`` with
    the inline matplotlib backend, as ipykernel sets them up.

    So magics and cell magics (``%time x = f()`` assigns ``x``, ``%%time`` cells run),
    ``display``, rich reprs, ``_``/``Out``/``In``, ``get_ipython()`` and ``%matplotlib
    inline`` behave as they do there, and pyplot's figures are closed after each cell
    (matplotlib-inline's ``flush_figures``), so a figure lives on only in a variable, as
    under nbgrader. No history database (``HistoryManager.enabled = False``), no colours,
    the profile under ``$HOME`` (the working directory), no warning printed on set-up.
    The shell is the template's (:func:`prepare`), re-homed, when it built one.
    Returns ``(run_cell, namespace)``; ``run_cell`` raises the cell's exception (one that
    escaped, or the first one IPython showed, e.g. inside ``%time``).
    """
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    shell = _PREBUILT
    if shell is None:
        shell = _new_shell()
    else:
        _rehome(shell)

    def run_cell(src: str, index: int) -> None:
        shell.reported = None
        result = shell.run_cell(src, store_history=True, silent=False)
        err = result.error_before_exec or result.error_in_exec or shell.reported
        shell.reported = None
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
    protocol = _PROTOCOL or _load_protocol()
    send = protocol.write_message

    header, _ = protocol.read_message(req_fd)
    cells = header.get("cells", [])
    sys.argv = ["notebook"]
    run_cell, ns = _notebook_runner()
    restore_builtins = _builtins_keeper()  # after the shell added display, get_ipython
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
    (:mod:`initkit.course.bridge`), so both answer every op the same way. Every reply says
    how long answering took here (``seconds``: decoding, the call, encoding), so the
    trusted side can tell the checks' compute from the round trips (a figure for
    ``benchmarks/bench_grading.py``; nothing is scored on it).
    """
    start = _clock()
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
        elif op == "calls":
            arg_lists = protocol.materialize(protocol.decode(header.get("args", []), blobs))
            func = _function(ns, header.get("name"))
            value = [_numbered_call(func, k, len(arg_lists), each)
                     for k, each in enumerate(arg_lists)]
        elif op == "get":
            if header.get("name") not in ns:
                raise _Missing(header.get("name"))
            value = ns[header["name"]]
        elif op == "has":
            value = header["name"] in ns
        elif op == "figures":
            value = _figures(ns)
        elif op == "png":
            value = _png(ns, header.get("index"))
        else:
            raise ValueError(f"unknown op {op!r}")
        tree, out_blobs = protocol.encode(value)
        # packed here, so a value JSON refuses (an int of 5000 digits) is this call's error
        return protocol.pack({"ok": True, "value": tree, "seconds": _clock() - start},
                             out_blobs)
    except BaseException as exc:  # noqa: B036 - the student's function may sys.exit()
        if isinstance(exc, _Missing):
            reply = {"ok": False, "error": {"type": "NameError", "message":
                     f"name {header.get('name')!r} is not defined"}}
        elif isinstance(exc, _CallFailed):
            reply = {"ok": False, "error": exc.error}
        else:
            reply = {"ok": False, "error": _describe(exc)}
        reply["seconds"] = _clock() - start
        return protocol.pack(reply)


class _CallFailed(Exception):
    """Call ``k`` of a ``calls`` request raised: the error to report (its type and message,
    the message saying which call it was)."""

    def __init__(self, error: dict):
        super().__init__(error["message"])
        self.error = error


def _numbered_call(func, k: int, n: int, args):
    """``func(*args)`` as call ``k`` of ``n``: its exception says which call it was."""
    try:
        return func(*args)
    except BaseException as exc:  # noqa: B036 - the student's function may sys.exit()
        err = _describe(exc)
        raise _CallFailed({"type": err["type"],
                           "message": f"call {k + 1} of {n}: {err['message']}"}) from None


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


def resolve_dotted(dotted: str):
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
            code = _code_of(resolve_dotted(dotted)) if isinstance(dotted, str) else None
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
