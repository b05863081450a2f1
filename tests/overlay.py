"""A throwaway environment on top of the test environment, for tests that pip-install.

A package installed into the test environment itself is seen by every process of every
test running at the same time: another pytest worker's `initkit` would load (or fail to
load, and warn about) a plugin that some other test installed a moment ago. An overlay is a
virtual environment of its own that sees every package of the test environment (its
site-packages holds a ``.pth`` line adding the test environment's site-packages as a site
directory, so that one's own ``.pth`` files, e.g. the editable initkit, work too) and
installs into its own site-packages. Its ``bin`` has ``python``, ``pip``, ``pytest`` and
``initkit``; a process started from there sees the overlay's packages, nothing else does.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import sysconfig
from pathlib import Path

#: console scripts of the overlay: name -> the Python that runs it
SCRIPTS = {
    "pip": "from pip._internal.cli.main import main\nsys.exit(main())",
    "pytest": "import pytest\nsys.exit(pytest.console_main())",
    "initkit": "from initkit.cli.main import main\nsys.exit(main())",
}


class Overlay:
    """A virtual environment in ``root`` layered on this interpreter's environment."""

    def __init__(self, root: Path):
        self.root = Path(root)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.root)],
                       check=True, capture_output=True, timeout=120)
        self.bin = self.root / "bin"
        self.python = self.bin / "python"
        self.site_packages = Path(subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True, timeout=60).stdout.strip())
        base = sysconfig.get_paths()["purelib"]
        (self.site_packages / "_initkit_test_base.pth").write_text(
            f"import site; site.addsitedir({base!r})\n")
        for name, body in SCRIPTS.items():
            script = self.bin / name
            script.write_text(f"#!{self.python}\nimport sys\n{body}\n")
            script.chmod(0o755)

    def activate_here(self) -> None:
        """Let this process import what the overlay holds (its site-packages first on
        sys.path; its .pth files are not run); undo with :meth:`deactivate_here`."""
        sys.path.insert(0, str(self.site_packages))
        importlib.invalidate_caches()

    def deactivate_here(self) -> None:
        while str(self.site_packages) in sys.path:
            sys.path.remove(str(self.site_packages))
        importlib.invalidate_caches()
