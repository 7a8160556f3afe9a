"""Every option and argument of every command, fed hostile values: issue 12's contract holds.

A second, systematic pass over the flags (``test_fuzz.py`` mutates the files a command reads;
this walks the typer app as click sees it). Each parameter of each command and sub-command gets
values chosen from its declared type or metavar — numbers: -1, 0, nan, inf, 1e400, a 20-digit
integer, '', 'abc'; files and folders: a missing one, a folder, a FIFO, a /dev/zero node, an empty
file, binary garbage, a path in a missing folder, a 5 MB single-line file; URLs: empty, ftp,
no host, an open IPv6 bracket, port 99999, a space, userinfo; addresses, CIDRs, labels and ids:
empty, blank, a newline, ``../x``, 300 characters, ports 0 and 65536, ``/99``; formats and
names: 'nosuch', '' — while every other required parameter holds a value that works (a baseline
run per command proves it does). Each case is one ``python -m netcheck`` in a fresh folder,
inside ``unshare -n`` (an empty network namespace: nothing can leave), with a time limit.

Asserted for every case: exit 0, 1 or 2 (never 3, never a hang); no traceback; on exit 2
exactly one line on stderr, ``netcheck: error: ...``, and the folder exactly as it was (an
existing ``--out`` untouched); on success nothing but what the baseline run makes or the path
the value itself names.

Commands that serve (``control serve``, ``server serve``) would never end when given values that
work, and the ``lab`` builds namespaces: they get only values that must be refused, and must
refuse them (exit 2) in time; their baseline only shows they start (still serving after 3 s).
The lab's cases run with an empty ``PATH`` besides, so a value wrongly let through fails at its
first ``ip`` command instead of building anything. A NUL byte cannot travel in argv, so it is
not among the values.

Shared options (``run`` and ``agent run`` declare the same thirty) get every value on the first
command that declares them and a rotating third of the values on the others: every value is
tried, every option of every command is tried, and the whole pass stays within a few minutes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_help import every_command
from tests.support.paths import DATA, ROOT

pytestmark = pytest.mark.root(reason="each case runs in a network namespace (unshare -n)")

TIMEOUT = 20.0
UNSHARE = shutil.which("unshare") or "unshare"  # found before the lab's cases empty PATH
SERVING = ("control serve", "server serve")
LAB = ("lab up", "lab run", "lab down", "lab status")
BUILDS_NAMESPACES = ("lab up", "lab run", "lab down")

NUMBERS = ["-1", "0", "nan", "inf", "-inf", "1e400", "99999999999999999999", "", "abc"]
# numbers a server or the lab may well accept (a huge limit is a limit): not "must be refused"
ACCEPTABLE_NUMBERS = {"inf", "1e400", "99999999999999999999"}
PATHS = ["@missing", "@folder", "@fifo", "@zero", "@empty", "@garbage", "@nodir", "@big"]
# paths a folder option may be given to make (a missing one) or to use (an empty folder)
ACCEPTABLE_FOLDERS = {"@missing", "@folder", "@nodir"}
URLS = ["", "ftp://x", "http://", "http://[::1", "http://h:99999/", "http://a b/", "http://u:p@h/"]
WORDS = ["", " ", "a\nb", "../x", "a" * 300, "1.2.3.4:0", "1.2.3.4:65536", "10.0.0.0/99"]
CHOICES = ["nosuch", ""]
PER_OPTION = 5  # values per option (a moving window over its kind's list)
MIXED = {"FILE|URL", "[FORMAT:]PATH", "DURATION", "SERVICE=URL"}  # two kinds: twice the values
SHARED = 2  # values per option another command declared first (run's flags on agent run)

NUMBER_TYPES = {"integer", "float", "integer range", "float range"}
PATH_METAVARS = {"FILE", "DIR", "PATH", "RESULTS", "FILE.jsonl", "CONFIG"}


def values_for(param: Any) -> list[str]:
    """The hostile values for one parameter, from its type, else its metavar."""
    metavar = param.metavar or ""
    if param.type.name in NUMBER_TYPES:
        return NUMBERS
    if metavar in PATH_METAVARS:
        return PATHS
    if metavar == "[FORMAT:]PATH":
        return [*PATHS, "nosuch:@empty", ":"]
    if metavar == "FILE|URL":
        return [*URLS, *PATHS]
    if metavar in ("URL", "ADDRESS"):
        return URLS
    if metavar == "SERVICE=URL":
        return ["", "nosuch", "x=", "=http://h/", "x=ftp://x", "x=http://[::1", "x=http://h:99999/"]
    if metavar == "DURATION":
        return [*NUMBERS, "nosuch", "1x", "1h1h"]
    if metavar in ("FORMAT", "AUDIENCE", "LANG", "SCHEME", "NAME", "NAMES"):
        return [*CHOICES, *WORDS[1:5]]
    return WORDS


# --- the fixtures: valid values for everything ----------------------------------------------------


@dataclass
class Command:
    """How to run one command with values that work: its fixed argv and per-parameter fills."""

    fills: dict[str, str] = field(default_factory=dict)  # parameter name -> value
    fixed: list[str] = field(default_factory=list)  # flags always given (--once, --no-catalogue)
    setup: tuple[str, ...] = ()  # what the case folder starts with: "data", "state", "out"...
    stdin: bytes = b""
    # what the baseline may exit with: 2 only where success needs a peer (none in the namespace)
    works: tuple[int, ...] = (0, 1)


COMMANDS: dict[str, Command] = {
    "run": Command(
        {"targets": "{F}/targets.yaml", "out": "out.jsonl"}, ["--no-catalogue"], ("out",)
    ),
    "browse": Command({"urls": "https://example.com/", "deadline": "1", "timeout": "0.5"}),
    "classify": Command({"files": "{F}/results.jsonl"}),
    "check": Command({"results": "{F}/results.jsonl", "policy": "{F}/policy.yaml"}),
    "report": Command({"results": "{F}/results.jsonl", "out": "out.html"}, setup=("out_html",)),
    "speed": Command({"url": "http://192.0.2.1/big", "max_seconds": "1"}),
    "schema": Command(),
    "targets list": Command(),
    "policy validate": Command({"file": "{F}/policy.yaml"}),
    "policy explain": Command({"policy": "{F}/policy.yaml", "url": "https://example.com/"}),
    "policy import": Command({"fmt": "hosts", "file": "{F}/hosts.txt"}),
    "control serve": Command({"bind": "127.0.0.1:8999", "token_file": "{F}/token"}),
    "diagnose": Command({"url": "https://example.com/", "timeout": "0.3", "max_hops": "2"}),
    "lab up": Command({"scenario": "clean", "state_dir": "lab-state"}),
    "lab run": Command({"scenario": "clean", "state_dir": "lab-state"}),
    "lab down": Command({"state_dir": "lab-state"}),
    "lab status": Command({"state_dir": "lab-state"}),
    "server serve": Command({"data": "data"}, setup=("data",)),
    "server enroll": Command({"data": "data", "network": "lab"}, setup=("data",)),
    "server revoke": Command({"data": "data", "probe": "{PROBE}"}, setup=("data",)),
    "server export": Command({"data": "data", "out": "export.out"}, setup=("data",)),
    "server user add": Command(
        {"data": "data", "name": "alice"}, setup=("data",), stdin=b"correct horse battery\n"
    ),
    # enrolling needs a collector to answer: the values pass every check, then "cannot reach"
    "agent enroll": Command(
        {"server": "http://127.0.0.1:9/", "code": "ABCDEF", "state": "new"}, works=(2,)
    ),
    "agent run": Command(
        {"state": "state", "targets": "{F}/targets.yaml"},
        ["--once", "--no-catalogue"],
        ("state",),
    ),
    "agent upload": Command({"files": "{F}/results.jsonl", "state": "state"}, setup=("state",)),
    "agent status": Command({"state": "state"}, setup=("state",)),
    "agent install": Command({"state": "state", "out": "units"}, ["--systemd"], ("state", "units")),
    "verify": Command({"path": "data"}, setup=("data",)),
    "notify": Command({"data": "data", "config": "{F}/notify.yaml"}, setup=("data",)),
}

TARGETS = "targets:\n  - {url: 'https://www.youtube.com/', service: youtube, function: view}\n"
NOTIFY = "webhooks:\n  - {url: 'http://127.0.0.1:9/hook', kind: json}\n"


@dataclass
class World:
    fixtures: Path  # read-only inputs every case shares
    data: Path  # a collector data folder with one enrolled probe
    state: Path  # an agent folder enrolled as that probe
    probe: str
    logs: Path  # where an internal error's details go (never the case folder)


def _make_world(root: Path) -> World:
    from netcheck.agent.state import KEY_FILE, AgentState
    from netcheck.fleet.evidence import new_key, public_b64, save_private
    from netcheck.server.store import Store

    fixtures = root / "fixtures"
    fixtures.mkdir()
    shutil.copy(ROOT / "sample_results" / "lab" / "clean.jsonl", fixtures / "results.jsonl")
    shutil.copy(ROOT / "policies" / "lab.yaml", fixtures / "policy.yaml")
    (fixtures / "targets.yaml").write_text(TARGETS)
    shutil.copy(DATA / "policy" / "hosts.txt", fixtures / "hosts.txt")
    (fixtures / "notify.yaml").write_text(NOTIFY)
    (fixtures / "token").write_text("t0ken-" + "x" * 40 + "\n")
    (fixtures / "token").chmod(0o600)
    data = root / "data"
    store = Store(data, create=True)
    try:
        code = store.create_code("lab-clean", 3600)  # the network of results.jsonl
        key = new_key()
        probe, network = store.enroll(code, public_b64(key))
    finally:
        store.close()
    state = root / "state"
    state.mkdir(mode=0o700)
    save_private(key, state / KEY_FILE)
    AgentState(server="http://127.0.0.1:9", probe_id=probe, network=network).save(state)
    logs = root / "logs"
    logs.mkdir()
    return World(fixtures, data, state, probe, logs)


def _hostile_path(token: str, folder: Path) -> str:
    """Make the thing ``token`` stands for inside the case folder; return the path to give."""
    given = folder / "given"
    given.mkdir(exist_ok=True)
    if token == "@missing":
        return "missing"
    if token == "@nodir":
        return "no-such-folder/x"
    path = given / token[1:]
    if token == "@folder":
        path.mkdir()
    elif token == "@fifo":
        os.mkfifo(path)
    elif token == "@zero":
        # a private node of /dev/zero's device: a command that renamed a file over it (as
        # server export once did) would destroy this one, never the machine's /dev/zero
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    elif token == "@empty":
        path.write_bytes(b"")
    elif token == "@garbage":
        path.write_bytes(bytes(range(256)) * 40 + b"\x00\xff\xfe")
    elif token == "@big":
        path.write_bytes(b"a" * (5 << 20))
    return str(path.relative_to(folder))


def _resolve(value: str, folder: Path, world: World) -> str:
    if re.fullmatch(r"@\w+", value):
        return _hostile_path(value, folder)
    if value.startswith("nosuch:@"):
        return "nosuch:" + _hostile_path(value.removeprefix("nosuch:"), folder)
    return value.replace("{F}", str(world.fixtures)).replace("{PROBE}", world.probe)


# --- one case -------------------------------------------------------------------------------------


@dataclass
class Case:
    path: tuple[str, ...]  # ("server", "user", "add")
    command: Any
    param: Any | None  # None: the baseline (every value valid)
    value: str = ""

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def label(self) -> str:
        if self.param is None:
            return f"netcheck {self.name} (baseline)"
        opt = self.param.opts[0] if self.param.opts else self.param.name
        return f"netcheck {self.name} {opt} {self.value!r}"


@dataclass
class Outcome:
    case: Case
    code: int | None  # None: still running at the time limit
    stdout: str
    stderr: str
    before: dict[str, tuple[Any, ...]]
    after: dict[str, tuple[Any, ...]]
    seconds: float
    given: str = ""  # the value as passed (a path made in the case folder)


def _argv(case: Case, folder: Path, world: World) -> tuple[list[str], str]:
    spec = COMMANDS[case.name]
    options: list[str] = []
    positionals: list[str] = []
    given = ""
    for param in case.command.params:
        if param.name is None or getattr(param, "is_flag", False):
            continue
        if param is case.param:
            value = given = _resolve(case.value, folder, world)
        elif param.name in spec.fills:
            value = _resolve(spec.fills[param.name], folder, world)
        else:
            continue
        if param.param_type_name == "argument":
            positionals.append(value)
        else:
            options += [param.opts[0], value]
    return [*case.path, *spec.fixed, *options, "--", *positionals], given


def _snapshot(folder: Path) -> dict[str, tuple[Any, ...]]:
    seen: dict[str, tuple[Any, ...]] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(folder))
        if path.is_symlink() or not path.is_file():
            seen[rel] = (oct(st.st_mode),)
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            seen[rel] = (oct(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return seen


def _setup(case: Case, folder: Path, world: World) -> None:
    for item in COMMANDS[case.name].setup:
        if item == "data":
            shutil.copytree(world.data, folder / "data")
        elif item == "state":
            shutil.copytree(world.state, folder / "state")
        elif item == "units":
            (folder / "units").mkdir()
        elif item == "out":
            (folder / "out.jsonl").write_bytes(b"")  # an --out the run appends to
        elif item == "out_html":
            (folder / "out.html").write_text("<p>the report of last week</p>\n")


def run_case(case: Case, folder: Path, world: World, limit: float = TIMEOUT) -> Outcome:
    folder.mkdir(parents=True)
    _setup(case, folder, world)
    argv, given = _argv(case, folder, world)
    before = _snapshot(folder)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(XDG_STATE_HOME=str(world.logs), COLUMNS="200", NO_COLOR="1")
    if case.name in BUILDS_NAMESPACES:
        empty = world.logs / "no-tools"
        empty.mkdir(exist_ok=True)
        env["PATH"] = str(empty)  # a value wrongly let through finds no `ip` to build with
    started = time.monotonic()
    proc = subprocess.Popen(
        [UNSHARE, "-n", "--", sys.executable, "-m", "netcheck", *argv],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(COMMANDS[case.name].stdin, timeout=limit)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    seconds = time.monotonic() - started
    text = (out.decode(errors="replace"), err.decode(errors="replace"))
    return Outcome(case, code, *text, before, _snapshot(folder), seconds, given)


# --- what each outcome must look like ------------------------------------------------------------


def _top(rel: str) -> str:
    return re.sub(r"\d", "9", rel.split("/", 1)[0])


def problems(outcome: Outcome, allowed: set[str]) -> list[str]:
    """What is wrong with one outcome (empty: it keeps the contract)."""
    found = []
    case, err = outcome, outcome.stderr
    if case.code is None:
        found.append(f"still running after {TIMEOUT:.0f} s (a hang)")
    elif case.code not in (0, 1, 2):
        found.append(f"exit {case.code}")
    for line in (err + case.stdout).splitlines():
        if "Traceback" in line:
            found.append(f"a traceback: {line[:120]!r}")
            break
    if case.code == 2:
        lines = err.splitlines()
        errors = [line for line in lines if line.startswith("netcheck: error:")]
        if len(errors) != 1 or len(lines) != 1:
            found.append(f"exit 2 with {len(lines)} stderr line(s), {len(errors)} error line(s)")
        if outcome.after != outcome.before:
            changed = sorted(set(outcome.after.items()) ^ set(outcome.before.items()))
            found.append(f"exit 2 but the folder changed: {sorted({k for k, _ in changed})}")
    elif case.code in (0, 1):
        lost = [k for k in outcome.before if k not in outcome.after]
        new = {k for k in outcome.after if k not in outcome.before}
        named = outcome.given.split("/", 1)[0] if outcome.given else None
        stray = sorted(k for k in new if _top(k) not in allowed and k.split("/")[0] != named)
        if lost:
            found.append(f"deleted {lost}")
        if stray:
            found.append(f"made {stray}")
    if found:
        first = (err.strip().splitlines() or [""])[-1][:200]
        found = [f"{outcome.case.label()}: {'; '.join(found)} [{first}]"]
    return found


# --- the cases ------------------------------------------------------------------------------------


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    for path, command in every_command():
        if not hasattr(command, "commands"):
            yield path[1:], command


def _must_refuse(name: str, param: Any, value: str) -> bool:
    """For serving and lab commands: only the values that must be refused."""
    if name not in SERVING and name not in LAB:
        return True
    if value in ACCEPTABLE_NUMBERS:
        return False
    is_folder = param.metavar == "DIR" or param.name in ("state_dir", "data")
    if is_folder and value in ACCEPTABLE_FOLDERS:
        return False
    if param.name == "bind" and value.endswith(":0"):
        return False  # port 0: any free port (the serve tests listen so)
    if name == "lab status":
        return True  # reads only; any value may be tried
    return not (param.name == "scenario" and value in ("all",))


def _sample(values: list[str], size: int, offsets: dict[tuple[str, ...], int]) -> list[str]:
    """``size`` of ``values``, the window moving on each time the same list is sampled: over
    the options of one kind, every value is tried."""
    if len(values) <= size:
        return values
    key = tuple(values)
    start = offsets.get(key, 0)
    offsets[key] = start + size
    return [values[(start + i) % len(values)] for i in range(size)]


def cases() -> tuple[list[Case], list[Case]]:
    baselines, hostile = [], []
    seen: dict[tuple[Any, ...], int] = {}
    offsets: dict[tuple[str, ...], int] = {}
    for path, command in _commands():
        name = " ".join(path)
        assert name in COMMANDS, f"a new command: add `{name}` to COMMANDS with values that work"
        if name not in BUILDS_NAMESPACES:
            baselines.append(Case(path, command, None))
        for param in command.params:
            if param.name is None or getattr(param, "is_flag", False) or param.name == "help":
                continue
            values = [v for v in values_for(param) if _must_refuse(name, param, v)]
            shared = (tuple(param.opts), param.metavar, type(param.type).__name__)
            turn = seen[shared] = seen.get(shared, -1) + 1
            size = PER_OPTION * (2 if param.metavar in MIXED else 1)
            values = _sample(values, SHARED if turn else size, offsets)
            hostile += [Case(path, command, param, value) for value in values]
    return baselines, hostile


@pytest.mark.timeout(420)
def test_every_option_of_every_command_keeps_the_contract(tmp_path: Path) -> None:
    if not Path(UNSHARE).is_absolute():
        pytest.skip("needs unshare(1) (util-linux)")
    world = _make_world(tmp_path)
    baselines, hostile = cases()
    started = time.monotonic()
    workers = max(4, 2 * (os.cpu_count() or 1))

    # the values that work do work: each command succeeds (or keeps serving) with them
    allowed: dict[str, set[str]] = {}
    broken = []
    with ThreadPoolExecutor(workers) as pool:
        limits = [3.0 if b.name in SERVING else TIMEOUT for b in baselines]
        done = list(
            pool.map(
                lambda i: run_case(baselines[i], tmp_path / f"base{i}", world, limits[i]),
                range(len(baselines)),
            )
        )
    for outcome in done:
        name = outcome.case.name
        fine = outcome.code is None if name in SERVING else outcome.code in COMMANDS[name].works
        if not fine:
            broken.append(f"{name}: exit {outcome.code}: {outcome.stderr.strip()[-300:]}")
        allowed[name] = {_top(k) for k in outcome.after if k not in outcome.before}
    assert not broken, "the values that should work do not:\n" + "\n".join(broken)

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(
            pool.map(
                lambda i: run_case(hostile[i], tmp_path / f"case{i}", world), range(len(hostile))
            )
        )
    seconds = time.monotonic() - started
    found = [p for o in outcomes for p in problems(o, allowed.get(o.case.name, set()))]
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(
        f"\n{len(hostile)} hostile cases over {len({c.name for c in hostile})} commands "
        f"and {len(baselines)} baselines in {seconds:.0f} s with {workers} workers "
        f"(slowest {slowest.seconds:.1f} s: {slowest.case.label()}); "
        f"{len(found)} broke the contract"
    )
    assert not found, f"{len(found)} case(s) broke the contract:\n" + "\n".join(found)
