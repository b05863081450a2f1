"""The student's path in a real JupyterLab: `make lab`'s server on a copy of exercises/,
driven in headless Chromium (selenium), one server and one browser for the whole module.

The lesson runs with Run All without an error and its figures render, and moving the
explorer's sigma_w^2 slider redraws the figure the kernel computes for the new value; ex01's
visible test shows the one sentence that names a wrong ``xavier_normal``'s mistake (no
traceback) and, for a right one, its pass line; the lesson's maths is typeset by MathJax.
With ``INITKIT_SCREENSHOTS=docs/images`` the module writes docs/images/explorer.png and
docs/images/failed-check.png.

The temporary Lab has its own Jupyter directories and two user settings: no news fetch (the
machine is offline, and the news toast would cover cells) and notebook windowing off (every
cell is in the page, so a cell is found by its index).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path

import nbformat
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import chromium, console_errors, element_screenshot, require_browser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LESSON, EX01 = "00_lesson.ipynb", "ex01_gradient_norms.ipynb"
#: ex01's cells: the set-up (imports), the answer cell of xavier_normal, its visible test
SETUP, ANSWER, VISIBLE_TEST = 1, 6, 7
WRONG = "def xavier_normal(shape, rng): return rng.normal(0.0, np.sqrt(1 / shape[1]), size=shape)"
RIGHT = ("def xavier_normal(shape, rng): "
         "return rng.normal(0.0, np.sqrt(2 / (shape[0] + shape[1])), size=shape)")
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
STDERR = "application/vnd.jupyter.stderr"
#: the image a blob: or data: URL holds, as a data: URL (read in the page)
READ_IMAGE = """const done = arguments[arguments.length - 1];
fetch(arguments[0].src).then(r => r.blob()).then(blob => {
  const reader = new FileReader(); reader.onload = () => done(reader.result);
  reader.readAsDataURL(blob); }).catch(e => done('error: ' + e));"""


def lab_command(lab_args: list[str]) -> list[str]:
    """`make lab`'s own command with ``LAB_ARGS`` (``make -n`` prints it without running it:
    ``jupyter lab --notebook-dir=exercises``, ``--allow-root`` for root, then LAB_ARGS), its
    jupyter the one of this environment; run in a folder whose ``exercises`` is the copy.
    Without make, the same command written out."""
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    if shutil.which("make"):
        printed = subprocess.run(
            ["make", "-s", "-n", "--no-print-directory", "-C", str(REPO),
             "-o", ".venv/.installed", "lab", f"LAB_ARGS={shlex.join(lab_args)}"],
            capture_output=True, text=True, check=True).stdout
        (line,) = [ln for ln in printed.splitlines() if re.search(r"/jupyter lab\b", ln)]
        return [jupyter, *shlex.split(line)[1:]]
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []
    return [jupyter, "lab", "--notebook-dir=exercises", *root_flag, *lab_args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running server: its URL with the token, its notebook folder, its log."""

    def __init__(self, port: int, token: str, notebooks: Path, log: Path):
        self.port, self.base = port, f"http://127.0.0.1:{port}"
        self.token, self.notebooks, self.log = token, notebooks, log

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path}?token={self.token}"

    def wait_until_serving(self, proc: subprocess.Popen, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab`'s server on a copy of exercises/ (in a temporary folder, its cwd), with
    Jupyter directories of its own."""
    require_browser()
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "exercises"
    shutil.copytree(REPO / "exercises", notebooks)
    for plugin, values in USER_SETTINGS.items():
        path = root / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / "config"),
           "JUPYTER_DATA_DIR": str(root / "data"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
           "IPYTHONDIR": str(root / "ipython")}
    server = Lab(free_port(), secrets.token_hex(16), notebooks, root / "lab.log")
    with server.log.open("wb") as log:
        lab_args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={server.port}",
                    "--ServerApp.port_retries=0", f"--IdentityProvider.token={server.token}"]
        proc = subprocess.Popen(lab_command(lab_args), cwd=root, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            server.wait_until_serving(proc)
            yield server
        finally:
            proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:  # anything of this server's session still running (a stuck kernel)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.fixture(scope="module", autouse=True)
def reference_explorer():
    """The explorer's figure code with tanh's phase map computed, warmed in a thread while
    the server and the lesson start (the slider test draws its reference with it)."""
    import threading

    require_browser()

    def warm() -> None:
        from initkit.viz.explorer import phase_map

        phase_map("tanh")

    thread = threading.Thread(target=warm, daemon=True)
    thread.start()
    yield thread
    thread.join()


def wait(driver, condition, timeout: float = 60.0, what: str = "the page"):
    """Poll ``condition(driver)`` until it is truthy (selenium's WebDriverWait)."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException,
            ElementClickInterceptedException)).until(condition)
    except TimeoutException:
        shot = Path(tempfile.mkdtemp(prefix="initkit-lab-")) / "timeout.png"
        driver.save_screenshot(str(shot))
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (the page: {shot})")


def click(driver, find, what: str, timeout: float = 30.0) -> None:
    """Click the element ``find(driver)`` returns, found again if the page re-rendered it."""

    def clicked(d) -> bool:
        find(d).click()
        return True

    wait(driver, clicked, timeout, f"a click on {what}")


class Notebook:
    """One open notebook in the Lab page: its tab, its cells, its kernel's state."""

    def __init__(self, driver, name: str):
        self.driver, self.name = driver, name

    def _tab(self):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(
            By.XPATH, f"//li[contains(@class,'lm-TabBar-tab')]"
                      f"[.//div[contains(@class,'lm-TabBar-tabLabel')][text()='{self.name}']]")

    @property
    def panel(self):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, self._tab().get_attribute("data-id"))

    def activate(self) -> Notebook:
        click(self.driver, lambda d: self._tab(), f"{self.name}'s tab")
        wait(self.driver, lambda d: self.panel.is_displayed(), what=f"{self.name}'s tab")
        return self

    def wait_until_open(self, folder: Path, timeout: float = 90.0) -> Notebook:
        """Wait until every cell of the notebook's file is in the page and its kernel is
        idle."""
        count = len(nbformat.read(folder / self.name, as_version=4).cells)
        wait(self.driver, lambda d: self.panel.is_displayed() and len(self.cells()) == count,
             timeout, f"{self.name}'s {count} cells")
        wait(self.driver, lambda d: self.kernel_idle(), timeout, f"{self.name}'s kernel")
        return self

    def cells(self) -> list:
        from selenium.webdriver.common.by import By

        return self.panel.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")

    def prompts(self) -> list[str]:
        return self.driver.execute_script(
            "return Array.from(arguments[0].querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
            ".map(e => e.textContent.trim())", self.panel)

    def kernel_idle(self) -> bool:
        return self.driver.execute_script(
            "const e = arguments[0].querySelector('.jp-Notebook-ExecutionIndicator');"
            "return !!e && e.getAttribute('data-status') === 'idle'", self.panel)

    def run_all(self, timeout: float = 180.0) -> None:
        """Run > Run All Cells, and wait until the kernel has run (or stopped at) the last.

        A menu click the page dropped (the kernel idle, no cell queued seconds later) is
        clicked again: nothing ran, so nothing runs twice.
        """
        from selenium.webdriver.common.by import By

        self.activate()
        for _attempt in range(3):
            self.select(0)  # the notebook has the focus: Run All is enabled for it
            click(self.driver, lambda d: d.find_element(
                By.XPATH, "//li[contains(@class,'lm-MenuBar-item')][.//div[text()='Run']]"),
                "the Run menu")
            click(self.driver, lambda d: d.find_element(
                By.CSS_SELECTOR, "li.lm-Menu-item[data-command='runmenu:run-all']"
                                 ":not(.lm-mod-disabled)"), "Run All in the Run menu")
            started = time.monotonic()
            while time.monotonic() - started < 10:
                if any(p != "[ ]:" for p in self.prompts()):
                    break
                time.sleep(0.1)
            else:
                continue
            break
        else:
            pytest.fail("Run > Run All Cells did not start the lesson in three attempts")
        wait(self.driver, lambda d: "[*]:" not in self.prompts() and self.kernel_idle(),
             timeout, f"{self.name} to run")

    def run_cell(self, index: int, timeout: float = 60.0):
        """Select cell ``index``, press Shift+Enter, wait for its new execution count."""
        from selenium.webdriver.common.by import By

        cell = self.cells()[index]
        before = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text.strip()
        self.select(index)
        self.shift_enter()

        def ran(driver) -> bool:
            prompt = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text.strip()
            return bool(re.fullmatch(r"\[\d+\]:", prompt)) and prompt != before \
                and self.kernel_idle()

        wait(self.driver, ran, timeout, f"cell {index} of {self.name} to run")
        return cell

    def select(self, index: int) -> None:
        """Click cell ``index``'s prompt until it is the notebook's active cell and the
        notebook has the keyboard focus."""
        from selenium.webdriver.common.by import By

        def selected(driver) -> bool:
            cell = self.cells()[index]
            cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
            return "jp-mod-active" in cell.get_attribute("class") and driver.execute_script(
                "return arguments[0].contains(document.activeElement)", self.panel)

        wait(self.driver, selected, 30, f"cell {index} of {self.name} to be selected")

    def shift_enter(self) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER) \
            .key_up(Keys.SHIFT).perform()

    def type_into(self, index: int, source: str) -> None:
        """Replace cell ``index``'s source by typing, as a student does (select all, type)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        def editor(driver):
            return self.cells()[index].find_element(By.CSS_SELECTOR, ".cm-content")

        click(self.driver, editor, f"cell {index}'s editor")
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL) \
            .send_keys(source).perform()
        wait(self.driver, lambda d: editor(d).text == source, 10, "the typed source")

    def outputs(self, cell) -> list[tuple[str, str]]:
        """(mime type, text) of each output of ``cell``, as the page shows them."""
        return [tuple(output) for output in self.driver.execute_script(
            "return Array.from(arguments[0].querySelectorAll('.jp-OutputArea-output'))"
            ".map(e => [e.getAttribute('data-mime-type') || '', e.innerText.trim()])", cell)]


@pytest.fixture(scope="module")
def page(lab):
    """One headless Chromium on the Lab, opened on the lesson."""
    with chromium(1700, 1000) as driver:
        driver.get(lab.url(f"lab/tree/{LESSON}"))
        yield driver


@pytest.fixture(scope="module")
def lesson(page, lab):
    """The lesson, run with Run All (its kernel stays for the module)."""
    notebook = Notebook(page, LESSON).wait_until_open(lab.notebooks)
    notebook.run_all()
    return notebook


@pytest.fixture(scope="module")
def ex01(page, lab):
    """ex01, opened from the file browser, its set-up cell run."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    item = wait(page, lambda d: d.find_element(
        By.XPATH, "//li[contains(@class,'jp-DirListing-item')]"
                  f"[.//span[text()='{EX01}']]"), what="ex01 in the file browser")
    wait(page, lambda d: item.is_displayed() and item.size["height"] > 0)
    ActionChains(page).double_click(item).perform()
    notebook = Notebook(page, EX01).wait_until_open(lab.notebooks)
    notebook.run_cell(SETUP)
    return notebook


def expected_sentence(answer: str, lab) -> str:
    """What ex01's visible test raises for ``answer``, run here on the notebook's own test
    cell: the line a student should see is ``CheckFailed: <that sentence>``."""
    from initkit.course import CheckFailed

    cell = nbformat.read(lab.notebooks / EX01, as_version=4).cells[VISIBLE_TEST]
    namespace: dict = {"np": np}
    exec(answer, namespace)  # noqa: S102 - the test's own answer
    try:
        exec(cell.source, namespace)  # noqa: S102 - the course's own visible test
    except CheckFailed as exc:
        return f"CheckFailed: {exc}"
    raise AssertionError("the wrong answer passed the visible test in process")


def pixels(data_url: str) -> np.ndarray:
    from PIL import Image

    assert data_url.startswith("data:image/png;base64,"), data_url[:80]
    return np.asarray(Image.open(BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
                      .convert("RGB"))


def explorer_image(notebook: Notebook):
    from selenium.webdriver.common.by import By

    return notebook.panel.find_element(By.CSS_SELECTOR, "img.widget-image")


def test_the_lesson_runs_all_without_errors_and_its_figures_render(lesson, page):
    """Run All runs every code cell (each has an execution count), no output is an error or
    a warning, every image decodes at figure size (the variance plot and the explorer), and
    the page logged no console error."""
    lesson.activate()
    prompts = lesson.prompts()
    assert prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    problems = [(mime, text[:300]) for cell in lesson.cells()
                for mime, text in lesson.outputs(cell) if mime == STDERR]
    assert problems == []
    images = page.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.jp-OutputArea-output img'))"
        ".map(i => [i.className, i.complete, i.naturalWidth])", lesson.panel)
    assert len(images) >= 2 and all(done and width >= 600 for _, done, width in images), images
    assert any("widget-image" in name for name, _, _ in images), images
    assert console_errors(page) == []


def test_moving_the_sigma_w2_slider_redraws_the_explorer(lesson, page, reference_explorer,
                                                        tmp_path):
    """Dragging the sigma_w^2 handle changes the readout and the figure, and the new figure
    is, pixel for pixel, the explorer's figure for the readout's value drawn here."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from initkit.viz.explorer import ExplorerFigure, Settings

    lesson.activate()
    image = explorer_image(lesson)
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
    before_src, before = image.get_attribute("src"), pixels(
        page.execute_async_script(READ_IMAGE, image))
    slider = lesson.panel.find_element(
        By.XPATH, ".//div[contains(@class,'widget-hslider')][label[text()='σ_w²']]")
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    assert readout.text == "1.00"
    ActionChains(page).click_and_hold(slider.find_element(By.CSS_SELECTOR, ".noUi-handle")) \
        .move_by_offset(20, 0).release().perform()
    wait(page, lambda d: readout.text != "1.00", 10, "the readout to move")
    wait(page, lambda d: image.get_attribute("src") != before_src, 60, "the figure to change")
    after = pixels(page.execute_async_script(READ_IMAGE, image))
    sigma_w2 = float(readout.text)
    reference_explorer.join()
    expected = pixels("data:image/png;base64," + base64.b64encode(ExplorerFigure().show(
        Settings(activation="tanh", sigma_w2=sigma_w2, sigma_b2=0.05)).png()).decode())
    assert sigma_w2 > 1.0
    assert after.shape == before.shape == expected.shape
    changed = np.any(after != before, axis=2).mean()
    mismatch = np.any(after != expected, axis=2).mean()
    assert changed > 0.01 and mismatch < 0.1 * changed, (sigma_w2, changed, mismatch)
    out = lesson.panel.find_elements(By.CSS_SELECTOR, ".jp-Cell")[5].find_element(
        By.CSS_SELECTOR, ".jp-OutputArea")
    element_screenshot(page, [out], "explorer.png", tmp_path)


def test_the_lessons_maths_is_typeset(lesson, lab, page):
    """Every $...$ and $$...$$ span of the lesson's markdown is a MathJax element, each
    \\sigma of the source is a σ in MathJax's MathML (not the letters s, i, g, m, a), and
    the rendered prose (code spans aside) shows no TeX source: no backslash command, no
    dollar, no "sigma" spelled out."""
    lesson.activate()
    sources = [re.sub(r"`[^`]*`", "", c.source) for c in nbformat.read(
        lab.notebooks / LESSON, as_version=4).cells if c.cell_type == "markdown"]
    spans = sum(len(re.findall(r"\$\$.+?\$\$|\$[^$]+\$", s, re.S)) for s in sources)
    sigmas = sum(s.count("\\sigma") for s in sources)
    assert spans >= 10 and sigmas >= 5
    wait(page, lambda d: d.execute_script(
        "return arguments[0].querySelectorAll('.jp-MarkdownOutput mjx-container').length",
        lesson.panel) == spans, 30, f"MathJax to typeset {spans} spans")
    mathml = page.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.jp-MarkdownOutput mjx-container'))"
        ".map(e => e.querySelector('mjx-assistive-mml').textContent).join(' ')", lesson.panel)
    assert mathml.count("σ") == sigmas and "sigma" not in mathml, mathml
    prose = page.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.jp-MarkdownOutput')).map(e => {"
        "const c = e.cloneNode(true); c.querySelectorAll('mjx-container, code')"
        ".forEach(x => x.remove()); return c.textContent; }).join('\\n')", lesson.panel)
    assert "Weight initialization" in prose
    assert not re.search(r"\\[A-Za-z]+|\$|\bsigma\b", prose), \
        re.findall(r".{30}(?:\\[A-Za-z]+|\$|\bsigma\b).{30}", prose)


def test_a_wrong_xavier_normal_shows_the_sentence_naming_its_mistake(ex01, lab, page, tmp_path):
    """With std sqrt(1/n_in) in the answer cell, the visible test's only output is the one
    line naming the mistake (LeCun's 1/fan_in), exactly the check's sentence: no traceback."""
    ex01.activate()
    ex01.type_into(ANSWER, WRONG)
    ex01.run_cell(ANSWER)
    test_cell = ex01.run_cell(VISIBLE_TEST)
    shown = ex01.outputs(test_cell)
    assert shown == [(STDERR, expected_sentence(WRONG, lab))]
    line = shown[0][1]
    assert line.endswith("did you use 1/fan_in (LeCun's rule)?"), line
    assert not re.search(r"Traceback|AssertionError|File \"|-{10}|line \d+", line), line
    element_screenshot(page, ex01.cells()[ANSWER:VISIBLE_TEST + 1], "failed-check.png",
                       tmp_path)


def test_a_right_xavier_normal_shows_the_pass_line(ex01):
    """With Glorot's std sqrt(2/(n_in + n_out)), the visible test prints its pass line and
    nothing else."""
    ex01.activate()
    ex01.type_into(ANSWER, RIGHT)
    ex01.run_cell(ANSWER)
    test_cell = ex01.run_cell(VISIBLE_TEST)
    assert ex01.outputs(test_cell) == [("application/vnd.jupyter.stdout",
                                        "xavier_normal: visible tests passed")]
