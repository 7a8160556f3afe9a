"""Benchmark: how long netcheck takes to start, beside a bare ``python -c pass``.

    python bench/startup.py [--runs 15] [--python PATH]

Runs, round-robin so machine load hits every command alike: ``python -c pass``, ``netcheck
--help``, ``netcheck targets list`` and ``netcheck policy validate policies/lab.yaml``, each as
a fresh process (``python -m netcheck``). Prints per command the median wall time and the median
CPU time (user + system of the child: what a loaded machine does not inflate as much), their
excess over ``python -c pass``, and which heavy libraries the command loaded. The target is
0.15 s for these three commands.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [],
    "netcheck --help": ["--help"],
    "netcheck targets list": ["targets", "list"],
    "netcheck policy validate FILE": ["policy", "validate", "policies/lab.yaml"],
}
HEAVY = ("pydantic", "httpx", "dns.resolver", "cryptography", "yaml", "rich", "pandas")
BUDGET_S = 0.15

# runs the command in-process, then says which heavy libraries it loaded
_LOADED = (
    "import atexit, sys\n"
    "heavy = {heavy!r}\n"
    "atexit.register(lambda: print('LOADED', ','.join(m for m in heavy if m in sys.modules),"
    " file=sys.__stderr__))\n"
    "sys.argv = ['netcheck', *{args!r}]\n"
    "from netcheck.cli import main\n"
    "main()\n"
)


def argv(python: str, args: list[str]) -> list[str]:
    return [python, "-c", "pass"] if not args else [python, "-m", "netcheck", *args]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def loaded(python: str, args: list[str]) -> str:
    if not args:
        return "-"
    script = _LOADED.format(heavy=HEAVY, args=args)
    done = subprocess.run([python, "-c", script], cwd=ROOT, capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if line.startswith("LOADED"):
            return line.removeprefix("LOADED").strip() or "none"
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for cmd_args in COMMANDS.values():  # one warm-up each: byte-code and page cache
        timed(argv(args.python, cmd_args))
    for _ in range(args.runs):
        for name, cmd_args in COMMANDS.items():
            wall, cpu = timed(argv(args.python, cmd_args))
            walls[name].append(wall)
            cpus[name].append(cpu)

    wall0 = statistics.median(walls["python -c pass"])
    cpu0 = statistics.median(cpus["python -c pass"])
    load = os.getloadavg()[0]
    with published("startup"):
        print(f"start-up, median of {args.runs} runs each, round-robin; load average {load:.1f}")
        # the interpreter's version, not its path: figures name no path outside the repository
        print(f"python: {sys.version.split()[0]}")
        print(
            f"{'command':<31} {'wall s':>7} {'cpu s':>7} {'cpu - pass':>10} "
            f"{'x pass (cpu)':>12}  heavy libraries loaded"
        )
        for name, cmd_args in COMMANDS.items():
            wall = statistics.median(walls[name])
            cpu = statistics.median(cpus[name])
            ratio = cpu / cpu0 if cpu0 else float("nan")
            print(
                f"{name:<31} {wall:7.3f} {cpu:7.3f} {cpu - cpu0:10.3f} {ratio:12.1f}  "
                f"{loaded(args.python, cmd_args)}"
            )
        over = [
            n for n in COMMANDS if n != "python -c pass" and statistics.median(cpus[n]) > BUDGET_S
        ]
        print(
            f"budget {BUDGET_S} s (cpu): "
            + ("all within" if not over else "over: " + ", ".join(over))
            + f"; python -c pass itself: {wall0:.3f} s wall"
        )


if __name__ == "__main__":
    main()
