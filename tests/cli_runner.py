"""`initkit ARGS` for the CLI tests: in this process (click's CliRunner) or as a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from click.testing import CliRunner

from initkit.cli.main import cli
from initkit.plugins import reset_plugin_manager

INITKIT = shutil.which("initkit", path=str(Path(sys.executable).parent)) or "initkit"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`initkit ARGS` in this process (click's CliRunner), as a fresh process would run it.

    The plugin manager is rebuilt before and after, so each call loads plugins as a new
    process does and leaves none behind; an exception the CLI does not turn into an exit code
    propagates (``catch_exceptions=False``), so "no traceback" stays a real check. Exit code,
    stdout and stderr come back as a CompletedProcess. ``run_process`` starts the real
    console script where the process itself is what a test pins.
    """
    environment = {"INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    reset_plugin_manager()
    try:
        with warnings.catch_warnings():
            result = CliRunner().invoke(cli, list(args), env=environment, prog_name="initkit",
                                        catch_exceptions=False)
    finally:
        reset_plugin_manager()
    return subprocess.CompletedProcess(["initkit", *args], result.exit_code, result.stdout,
                                       result.stderr)


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`initkit ARGS` as a real process of the installed console script."""
    environment = {**os.environ, "INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    return subprocess.run([INITKIT, *args], capture_output=True, text=True, env=environment,
                          timeout=120)
