"""Rebuild the example exercise and the corpus of bad submissions (run by hand, not a test).

``python tests/grading/build_example.py`` writes:

- ``course/source/variance/variance.ipynb``: the nbgrader source notebook (solutions and the
  visible test cells, with nbgrader cell metadata);
- ``graders/variance/variance.ipynb``: the released student version, made by real
  ``nbgrader generate_assignment`` (checksums included), used by the structure checks;
- ``corpus/*.ipynb``: submissions, honest and hostile, made from the released notebook; their
  expected outcomes are in ``corpus/expected.json`` (written by hand, not by this script).

The 100 MB notebook is not stored: the corpus test writes it (see ``make_huge``).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
EXERCISE = "variance"

SETUP = "import numpy as np\nimport matplotlib.pyplot as plt\nimport initkit"
XAVIER = '''def xavier_std(fan_in, fan_out):
    """Glorot & Bengio (2010): std = sqrt(2 / (fan_in + fan_out))."""
    ### BEGIN SOLUTION
    return float(initkit.calculate_gain("linear") * np.sqrt(2.0 / (fan_in + fan_out)))
    ### END SOLUTION'''
HE = '''def he_std(fan_in):
    """He et al. (2015): std = sqrt(2 / fan_in), for ReLU layers."""
    ### BEGIN SOLUTION
    return float(initkit.calculate_gain("relu") / np.sqrt(fan_in))
    ### END SOLUTION'''
SIMULATE = '''def simulate_variance(std, depth=10, width=64, seed=0):
    """np.var of the activations after each of `depth` random ReLU layers.

    x ~ N(0, I) of size `width` is drawn first from np.random.default_rng(seed); then each
    layer draws W = rng.normal(scale=std, size=(width, width)) and sets x = relu(W @ x).
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    x = rng.normal(size=width)
    out = []
    for _ in range(depth):
        w = rng.normal(scale=std, size=(width, width))
        x = np.maximum(w @ x, 0.0)
        out.append(np.var(x))
    return np.array(out)
    ### END SOLUTION'''
PLOT = '''# Plot simulate_variance(he_std(64), depth=20) against the layer (1..20), label "he",
# with a logarithmic y axis, on a figure named `fig`.
### BEGIN SOLUTION
fig, ax = plt.subplots()
ax.plot(np.arange(1, 21), simulate_variance(he_std(64), depth=20), label="he")
ax.set_yscale("log")
ax.set_xlabel("layer")
ax.set_ylabel("variance")
ax.legend()
### END SOLUTION'''
TEST_XAVIER = '''assert abs(xavier_std(3, 5) - 0.5) < 1e-9
assert abs(xavier_std(100, 100) - 0.1) < 1e-9'''
TEST_HE = '''assert abs(he_std(2) - 1.0) < 1e-9
assert abs(he_std(50) - 0.2) < 1e-9'''
TEST_SIM = '''_v = simulate_variance(1.2, depth=5, width=32, seed=3)
assert np.shape(_v) == (5,)
_rng = np.random.default_rng(3)
_x = _rng.normal(size=32)
for _i in range(5):
    _x = np.maximum(_rng.normal(scale=1.2, size=(32, 32)) @ _x, 0.0)
    assert abs(_v[_i] - np.var(_x)) <= 1e-9 * max(1.0, np.var(_x))'''
TEST_PLOT = '''_lines = [l for a in fig.get_axes() for l in a.get_lines() if l.get_label() == "he"]
assert len(_lines) == 1 and len(_lines[0].get_ydata()) == 20
assert _lines[0].axes.get_yscale() == "log"'''


def _cell(src, kind="code", **nbg):
    maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = maker(src)
    if nbg:
        cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, **nbg}
    return cell


def source_notebook():
    """The nbgrader source notebook of the example exercise."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["initkit"] = {"exercise": EXERCISE}
    nb.cells = [
        _cell("# Variance through depth\nImplement the two standard deviations and the "
              "simulation.", "markdown", grade_id="intro", locked=True),
        _cell(SETUP, grade_id="setup", locked=True),
        _cell(XAVIER, grade_id="xavier", solution=True),
        _cell(TEST_XAVIER, grade_id="test_xavier", grade=True, points=2),
        _cell(HE, grade_id="he", solution=True),
        _cell(TEST_HE, grade_id="test_he", grade=True, points=2),
        _cell(SIMULATE, grade_id="simulate", solution=True),
        _cell(TEST_SIM, grade_id="test_simulate", grade=True, points=3),
        _cell(PLOT, grade_id="plot", solution=True),
        _cell(TEST_PLOT, grade_id="test_plot", grade=True, points=1),
    ]
    return nb


def nbgrader_config(course: Path) -> None:
    """A minimal nbgrader_config.py for a course folder (plain assignment, no db extras)."""
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = r'{course}'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        "c.Execute.timeout = 60\n")


def nbgrader_env() -> dict:
    """The environment for nbgrader: it runs ``alembic`` from PATH, so the venv comes first."""
    import os

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def release(source: Path) -> nbformat.NotebookNode:
    """Run real ``nbgrader generate_assignment`` on the source; return the release notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        (course / "source" / EXERCISE).mkdir(parents=True)
        shutil.copy(source, course / "source" / EXERCISE / f"{EXERCISE}.ipynb")
        nbgrader_config(course)
        subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "generate_assignment",
                        EXERCISE, "--force"], cwd=course, check=True, capture_output=True,
                       env=nbgrader_env())
        return nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)


def _answer(nb, grade_id, src):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = src
            return nb
    raise KeyError(grade_id)


def _solution(src):
    return "\n".join(ln for ln in src.splitlines() if "### " not in ln)


def honest(released, **overrides):
    """The released notebook with the correct answers (some replaced by ``overrides``)."""
    nb = copy.deepcopy(released)
    for gid, src in (("xavier", XAVIER), ("he", HE), ("simulate", SIMULATE), ("plot", PLOT)):
        _answer(nb, gid, overrides.get(gid, _solution(src)))
    return nb


def _insert(nb, index, src):
    nb.cells.insert(index, nbformat.v4.new_code_cell(src))
    return nb


def _gid_index(nb, gid):
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


WRONG_HE = "def he_std(fan_in):\n    return float(np.sqrt(1.0 / fan_in))"
SECRET_HUNT = '''import os, glob
# @GRADERS@ and @GRADING@ are replaced by the real paths when the corpus is graded: the
# hunter knows exactly where the hidden graders are, wherever the repository lives
found = []
for pattern in ["../*", "../../*", "../../../source/*/*", "@GRADERS@/*/*",
                "@GRADING@/corpus/*", "@GRADING@/course/*/*/*",
                "/root/*", "/tmp/initkit-sub-*/*"]:
    for p in glob.glob(pattern):
        try:
            with open(p, errors="replace") as fh:
                found.append(p + ": " + fh.read(100000))
        except Exception as exc:
            pass
found.append(repr(dict(os.environ)))
print("\\n".join(found))'''


# Hostile cases for the confinement (issue: allow-list root, PID namespace). The corpus
# test replaces @OUTSIDE@ (a world-writable host folder), @SOCKET@ (a listening UNIX socket
# of the host, under /run) and @ABSTRACT@ (an abstract UNIX socket name) when it grades.
WALK_FOR_SECRETS = """import collections, os, time
# breadth first from every relative parent and from /, for 2 s: any file holding a
# grader's secret (planted per run in /srv, /tmp, $HOME and a world-readable folder)
_needle = ('GRADER' + '-SECRET-').encode()  # never spelled out: this file is not a find
_found, _seen, _start = [], set(), time.monotonic()
_queue = collections.deque(['/'.join(['..'] * k) for k in range(1, 12)])
_queue += sorted(('/' + e for e in os.listdir('/') if e not in ('proc', 'sys')),
                 key=lambda p: (p in ('/usr', '/dev'), p))
while _queue and time.monotonic() - _start < 2.0:
    _d = _queue.popleft()
    try:
        _real = os.path.realpath(_d)
        if _real in _seen or _real in ('/proc', '/sys'):
            continue
        _seen.add(_real)
        _entries = list(os.scandir(_d))
    except OSError:
        continue
    for _e in _entries:
        if time.monotonic() - _start > 2.0:
            break
        try:
            if _e.is_symlink():
                continue
            if _e.is_dir():
                _queue.append(_e.path)
            elif _e.is_file():
                with open(_e.path, 'rb') as _fh:
                    if _needle in _fh.read(65536):
                        _found.append(_e.path)
        except OSError:
            pass
print('visited', len(_seen), 'folders; secrets found in', _found)
if _found:
    def he_std(fan_in):
        return 'found ' + repr(_found)
"""
SIGNAL_HOST = """import os, signal
_me, _seen, _signalled = os.getpid(), [], []
for _name in os.listdir('/proc'):
    if not _name.isdigit() or int(_name) == _me:
        continue
    try:
        with open(f'/proc/{_name}/cmdline', 'rb') as _fh:
            _seen.append((int(_name), _fh.read().replace(b'\\0', b' ').decode()))
    except OSError:
        pass
    for _sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(int(_name), _sig)
            _signalled.append(int(_name))
        except OSError:
            pass
print('processes seen:', _seen, 'signalled:', sorted(set(_signalled)))
"""
DETACHED_CHILDREN = """import os, signal, subprocess
_started = 0
for _i in range(30):
    try:
        subprocess.Popen(['sleep', f'98764{_i:02d}'], start_new_session=True)
        _started += 1
    except OSError:
        pass
_pid = os.fork()
if _pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.execvp('sleep', ['sleep', '9876499'])
    finally:
        os._exit(0)
os.waitpid(_pid, 0)
print('started', _started, 'detached children and a double fork')
"""
READ_SYSTEM_FILES = """for _p in ['/etc/passwd', '/etc/shadow', '/etc/group']:
    try:
        print(_p, '->', open(_p).read())
    except OSError as _exc:
        print(_p, '->', type(_exc).__name__)
"""
HOST_SOCKETS = """import os, socket, stat
_tried = []
def _connect(_addr):
    _s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _s.settimeout(0.5)
    try:
        _s.connect(_addr)
        print('CONNECTED', repr(_addr))
    except OSError as _exc:
        _tried.append((repr(_addr), type(_exc).__name__))
    finally:
        _s.close()
_connect('@SOCKET@')
_connect('\\0@ABSTRACT@')
for _top in ['/run', '/var/run', '/tmp', '/dev']:
    for _root, _dirs, _files in os.walk(_top):
        for _f in _files:
            _p = os.path.join(_root, _f)
            try:
                if stat.S_ISSOCK(os.lstat(_p).st_mode):
                    _connect(_p)
            except OSError:
                pass
print('tried', _tried)
"""
WRITE_OUTSIDE = """import os
_wrote = []
for _p in ['/escape.txt', '/tmp/escape.txt', '/etc/escape.txt', '/usr/escape.txt',
           '../escape.txt', '../../escape.txt', '/var/tmp/escape.txt', '/srv/escape.txt',
           '@OUTSIDE@/escape.txt', os.path.expanduser('~/../escape.txt')]:
    try:
        with open(_p, 'w') as _fh:
            _fh.write('escaped')
        _wrote.append(_p)
    except OSError as _exc:
        print(_p, type(_exc).__name__)
print('WROTE', _wrote)
"""


# Issue 19: the system-call filter. Each call with harmless arguments (so that, unfiltered,
# it would fail for another reason or do nothing: a bad fd, a missing process, NULL), its
# own numbers from the kernel headers (x86_64: asm/unistd_64.h, aarch64: asm-generic/unistd.h),
# not the kit's table; the result is EPERM only where the filter answers.
#: name -> (x86_64 number, aarch64 number or None, harmless arguments) of each probed call
SYSCALL_NUMBERS = {
    'unshare': (272, 97, (0,)), 'setns': (308, 268, (-1, 0)),
    'mount': (165, 40, (0, 0, 0, 0, 0)), 'umount2': (166, 39, (0, 0)),
    'pivot_root': (155, 41, (0, 0)), 'chroot': (161, 51, (0,)),
    'move_mount': (429, 429, (-1, 0, -1, 0, 0)), 'open_tree': (428, 428, (-1, 0, 0)),
    'fsopen': (430, 430, (0, 0)), 'fsconfig': (431, 431, (-1, 0, 0, 0, 0)),
    'fsmount': (432, 432, (-1, 0, 0)), 'fspick': (433, 433, (-1, 0, 0)),
    'mount_setattr': (442, 442, (-1, 0, 0, 0, 0)),
    'io_uring_setup': (425, 425, (1, 0)), 'io_uring_enter': (426, 426, (-1, 0, 0, 0, 0, 0)),
    'io_uring_register': (427, 427, (-1, 0, 0, 0)),
    'memfd_create': (319, 279, (b'x', 0)), 'memfd_secret': (447, 447, (0,)),
    'execveat': (322, 281, (-1, b'', 0, 0, 0x1000)),
    'keyctl': (250, 219, (0, -3, 0)), 'add_key': (248, 217, (0, 0, 0, 0, 0)),
    'request_key': (249, 218, (0, 0, 0, 0)), 'bpf': (321, 280, (0, 0, 0)),
    'perf_event_open': (298, 241, (0, 0, -1, -1, 0)), 'ptrace': (101, 117, (2, 999999, 0, 0)),
    'process_vm_readv': (310, 270, (999999, 0, 0, 0, 0, 0)),
    'process_vm_writev': (311, 271, (999999, 0, 0, 0, 0, 0)),
    'kcmp': (312, 272, (999999, 999999, 0, 0, 0)), 'pidfd_getfd': (438, 438, (-1, 0, 0)),
    'process_madvise': (440, 440, (-1, 0, 0, 0, 0)), 'userfaultfd': (323, 282, (1,)),
    'open_by_handle_at': (304, 265, (-1, 0, 0)),
    'name_to_handle_at': (303, 264, (-1, 0, 0, 0, 0)),
    'kexec_load': (246, 104, (0, 0, 0, 0)), 'kexec_file_load': (320, 294, (-1, -1, 0, 0, 0)),
    'init_module': (175, 105, (0, 0, 0)), 'finit_module': (313, 273, (-1, 0, 0)),
    'delete_module': (176, 106, (0, 0)), 'swapon': (167, 224, (0, 0)),
    'swapoff': (168, 225, (0,)), 'reboot': (169, 142, (0, 0, 0, 0)), 'acct': (163, 89, (0,)),
    'quotactl': (179, 60, (0, 0, 0, 0)), 'quotactl_fd': (443, 443, (-1, 0, 0, 0)),
    'lookup_dcookie': (212, 18, (0, 0, 0)), 'syslog': (103, 116, (10, 0, 0)),
    'fanotify_init': (300, 262, (0, 0)), 'settimeofday': (164, 170, (0, 0)),
    'clock_settime': (227, 112, (0, 0)), 'adjtimex': (159, 171, (0,)),
    'clock_adjtime': (305, 266, (0, 0)), 'sethostname': (170, 161, (0, 0)),
    'setdomainname': (171, 162, (0, 0)), 'vhangup': (153, 58, ()),
    'nfsservctl': (180, 42, ()), 'uselib': (134, None, (0,)), 'ustat': (136, None, (0, 0)),
    'sysfs': (139, None, (0, 0, 0)), '_sysctl': (156, None, (0,)), 'iopl': (172, None, (0,)),
    'ioperm': (173, None, (0, 0, 0)), 'create_module': (174, None, (0, 0)),
    'get_kernel_syms': (177, None, (0,)), 'query_module': (178, None, (0, 0, 0, 0, 0)),
    'personality(ADDR_NO_RANDOMIZE)': (135, 92, (0x0040000,)),
    'x32 getpid': (0x40000000 + 39, None, ()),
}

SYSCALL_PROBE = """import ctypes, errno, os, shutil, subprocess
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_x86 = os.uname().machine == 'x86_64'
_N = """ + repr(SYSCALL_NUMBERS) + """
def _call(nr, args):
    rc = _libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a
                                            for a in args])
    return 'ok' if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')
_seen = {}
for _name, (_a, _b, _args) in _N.items():
    _nr = _a if _x86 else _b
    if _nr is not None:
        _seen[_name] = _call(_nr, _args)
_r = _libc.syscall(ctypes.c_long(56 if _x86 else 220), ctypes.c_long(0x10000000 | 17),
                   0, 0, 0, 0)  # clone(CLONE_NEWUSER | SIGCHLD)
if _r == 0:
    os._exit(0)
if _r > 0:
    os.waitpid(_r, 0)
_seen['clone(CLONE_NEWUSER)'] = 'ok' if _r >= 0 else errno.errorcode[ctypes.get_errno()]
_seen['clone3'] = _call(435, (0, 0))
_seen['personality(query)'] = _call(135 if _x86 else 92, (0xFFFFFFFF,))
_pid = os.fork()
if _pid == 0:
    os._exit(7)
_seen['fork'] = os.waitstatus_to_exitcode(os.waitpid(_pid, 0)[1])
shutil.copy('/bin/true', 'true_copy')
os.chmod('true_copy', 0o755)
try:
    subprocess.run(['./true_copy'])
    _seen['exec from the working directory'] = 'ok'
except OSError as _exc:
    _seen['exec from the working directory'] = errno.errorcode[_exc.errno]
_seen['CapBnd'] = [_l.split()[1] for _l in open('/proc/self/status')
                   if _l.startswith('CapBnd')][0]
for _name, _got in _seen.items():
    print(f'syscall {_name}: {_got}')
_escaped = [_n for _n, _g in _seen.items() if _g == 'ok' and _n != 'personality(query)']
print('escaped', _escaped)
if _escaped:
    def he_std(fan_in):
        return 'escaped ' + repr(_escaped)
"""
# Issue 19: the kernel keyrings. The corpus test's grader runs with a key of the run's
# secret in its session keyring (and the user keyring linked there, as pam_keyinit does);
# this cell lists every keyring it can name and /proc/keys, and reads every key it finds.
KEYRING_HUNT = """import ctypes, errno, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_K = 250 if os.uname().machine == 'x86_64' else 219
def _read(key):
    _buf = ctypes.create_string_buffer(65536)
    _n = _libc.syscall(ctypes.c_long(_K), ctypes.c_long(11), ctypes.c_long(key), _buf,
                       ctypes.c_long(65536))  # KEYCTL_READ
    if _n < 0:
        return errno.errorcode.get(ctypes.get_errno(), '?')
    return _buf.raw[:min(_n, 65536)]
_loot, _ids = [], set()
for _ring in (-3, -4, -5):  # @s, @u, @us
    _got = _read(_ring)
    print('keyring', _ring, _got if isinstance(_got, str) else f'{len(_got) // 4} keys')
    if isinstance(_got, bytes):
        _ids.update(int.from_bytes(_got[_i:_i + 4], 'little') for _i in range(0, len(_got), 4))
try:
    for _line in open('/proc/keys'):
        print('/proc/keys', _line.rstrip())
        _ids.add(int(_line.split()[0], 16))
except OSError as _exc:
    print('/proc/keys', type(_exc).__name__)
for _id in sorted(_ids):
    _buf = ctypes.create_string_buffer(4096)  # KEYCTL_DESCRIBE: 'type;uid;gid;perm;name'
    if _libc.syscall(ctypes.c_long(_K), ctypes.c_long(6), ctypes.c_long(_id), _buf,
                     ctypes.c_long(4096)) < 0 or _buf.value.startswith(b'keyring;'):
        continue
    _got = _read(_id)
    if isinstance(_got, bytes) and _got:
        _loot.append(_got.decode(errors='replace'))
print('keys read', _loot)
if _loot:
    def he_std(fan_in):
        return 'keys ' + repr(_loot)
"""


def corpus(released):
    """name -> notebook (dict or str for the non-notebook ones)."""
    c = {}
    c["honest_correct"] = honest(released)
    c["honest_wrong_he"] = honest(released, he=WRONG_HE)
    c["not_implemented"] = copy.deepcopy(released)
    nb = honest(released)
    del nb.cells[_gid_index(nb, "test_he")]
    c["missing_test_cell"] = nb
    nb = honest(released)
    nb.cells[_gid_index(nb, "test_he")].metadata.nbgrader["grade_id"] = "test_he_renamed"
    c["renamed_test_cell"] = nb
    nb = honest(released, he=WRONG_HE)
    nb.cells[_gid_index(nb, "test_he")].source = "pass"
    c["edited_test_cell"] = nb
    nb = honest(released)
    del nb.cells[_gid_index(nb, "test_he")].metadata["nbgrader"]
    c["detagged_test_cell"] = nb
    nb = honest(released)
    nb.cells[_gid_index(nb, "setup")].source = "import numpy as np\nimport matplotlib.pyplot " \
        "as plt\nimport initkit\nnp.allclose = lambda *a, **k: True"
    c["edited_locked_setup"] = nb
    c["syntax_error"] = honest(released, xavier="def xavier_std(fan_in, fan_out)\n    return 1")
    c["sys_exit"] = _insert(honest(released), len(released.cells), "import sys\nsys.exit(0)")
    c["os_exit"] = _insert(honest(released), len(released.cells), "import os\nos._exit(0)")
    c["infinite_loop"] = _insert(honest(released), 3, "while True:\n    pass")
    c["swallow_keyboard_interrupt"] = _insert(honest(released), 3, (
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
        "    except BaseException:\n        pass"))
    c["memory_bomb"] = _insert(honest(released), len(released.cells), (
        "def _bomb():\n    hog = []\n    while True:\n        hog.append(bytearray(50 * 2**20))"
        "\n_bomb()\n_huge = bytearray(2**40)"))
    c["fork_bomb"] = _insert(honest(released), len(released.cells), (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
        "        pass"))
    c["print_100mb"] = _insert(honest(released), len(released.cells), (
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)"))
    c["background_process"] = _insert(honest(released), len(released.cells), (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '987651'], start_new_session=True)\n"
        "subprocess.Popen(['sh', '-c', 'sleep 987652 & exit 0'])"))
    c["reads_secrets"] = _insert(honest(released, he=WRONG_HE), len(released.cells), SECRET_HUNT)
    c["fake_results"] = _insert(honest(released, he=WRONG_HE), len(released.cells), (
        "import json\nfor p in ['results.json', '../results.json', 'grades.csv']:\n"
        "    try:\n        open(p, 'w').write(json.dumps({'score': 100.0, 'tests': []}))\n"
        "    except OSError:\n        pass\n"
        "print('=' * 20 + ' 4 passed in 0.10s ' + '=' * 20)\n"
        "import sys; sys.stderr.write('4 passed, 0 failed\\n')"))
    c["shadow_builtins"] = _insert(honest(released, he=WRONG_HE), 2, (
        "import builtins\nabs = lambda x: 0\nbuiltins.abs = lambda x: 0\n"
        "builtins.isinstance = lambda *a: True\nround = lambda *a, **k: 0\n"
        "builtins.float = lambda *a: 0.2"))
    c["rigged_dunders"] = honest(released, he=(
        "class _Any(float):\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n    __sub__ = lambda self, other: 0.0\n"
        "    __rsub__ = __sub__\n    __abs__ = lambda self: 0.0\n"
        "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
        "def he_std(fan_in):\n    return _Any(123.0)\n"), xavier=(
        "class _Anything:\n    def __eq__(self, other):\n        return True\n"
        "    def __sub__(self, other):\n        return 0.0\n"
        "    __rsub__ = __sub__\n"
        "    def __abs__(self):\n        return 0.0\n"
        "    def __float__(self):\n        return 0.5\n"
        "def xavier_std(fan_in, fan_out):\n    return _Anything()\n"))
    c["input_transformer"] = _insert(honest(released, he=WRONG_HE), 2, (
        "get_ipython().input_transformers_cleanup.append(lambda lines: [])"))
    c["monkeypatch_numpy"] = _insert(honest(released, he=WRONG_HE), 2, (
        "import numpy, initkit, pytest\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.isclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = "
        "lambda *a, **k: None\ninitkit.VarianceSimulator = None\n"
        "pytest.approx = lambda *a, **k: 0.2"))
    c["nan_inf"] = honest(released, xavier="def xavier_std(fan_in, fan_out):\n    "
                          "return float('nan')", he="def he_std(fan_in):\n    return "
                          "float('inf')")
    c["wrong_types_shapes"] = honest(released, xavier="def xavier_std(fan_in, fan_out):\n"
                                     "    return '0.5'", simulate=(
                                         "def simulate_variance(std, depth=10, width=64, "
                                         "seed=0):\n    return np.zeros((depth, 2))"))
    c["stderr_warning"] = _insert(honest(released), 3, (
        "import warnings, sys\nwarnings.warn('this is only a warning')\n"
        "sys.stderr.write('some noise on stderr\\n')"))
    end = len(released.cells)
    c["walks_for_secrets"] = _insert(honest(released), end, WALK_FOR_SECRETS)
    c["signals_host_processes"] = _insert(honest(released), end, SIGNAL_HOST)
    c["detached_children"] = _insert(honest(released), end, DETACHED_CHILDREN)
    c["reads_system_files"] = _insert(honest(released), end, READ_SYSTEM_FILES)
    c["host_sockets"] = _insert(honest(released), end, HOST_SOCKETS)
    c["writes_outside"] = _insert(honest(released), end, WRITE_OUTSIDE)
    c["denied_syscalls"] = _insert(honest(released), end, SYSCALL_PROBE)
    c["reads_keyring"] = _insert(honest(released), end, KEYRING_HUNT)
    return c


def write_corpus(names: list[str]) -> None:
    """Write only the corpus notebooks ``names`` (from the stored release notebook)."""
    released = nbformat.read(HERE / "graders" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    cases = corpus(released)
    for name in names:
        nbformat.write(cases[name], HERE / "corpus" / f"{name}_{EXERCISE}.ipynb")


def write_all() -> None:
    """Write source, release and corpus notebooks next to this file."""
    src = HERE / "course" / "source" / EXERCISE / f"{EXERCISE}.ipynb"
    src.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), src)
    released = release(src)
    graders = HERE / "graders" / EXERCISE
    graders.mkdir(parents=True, exist_ok=True)
    nbformat.write(released, graders / f"{EXERCISE}.ipynb")
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    for name, nb in corpus(released).items():
        nbformat.write(nb, out / f"{name}_{EXERCISE}.ipynb")
    (out / f"not_json_{EXERCISE}.ipynb").write_text(
        json.dumps(nbformat.v4.new_notebook(), indent=1)[:-40] + "\n")
    (out / f"not_a_notebook_{EXERCISE}.ipynb").write_text(json.dumps({"hello": [1, 2, 3]}))
    (out / f"old_nbformat_{EXERCISE}.ipynb").write_text(json.dumps(
        {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}))
    (out / f"invalid_schema_{EXERCISE}.ipynb").write_text(json.dumps(
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
         "cells": [{"cell_type": "code", "source": 42}]}))


def make_huge(path: Path, megabytes: int = 100) -> None:
    """Write a valid notebook of about ``megabytes`` MB (a huge output) to ``path``."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('x')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * megabytes
                                           * 1024 * 1024)]
    nb.cells = [cell]
    nbformat.write(nb, path)


if __name__ == "__main__":
    if sys.argv[1:]:  # only these corpus cases, e.g. `build_example.py walks_for_secrets`
        write_corpus(sys.argv[1:])
    else:
        write_all()
