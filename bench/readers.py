"""What a hostile or oversized input costs a reader, before and after the limits (issue 12).

Builds OONI-format fingerprints CSVs (a 50 MB one, one of 10,000 rows: the most a file may hold,
one with a 1 MB field)
and loads each with ``netcheck.classify.fingerprints.load_fingerprint_file`` as it was at
``BEFORE`` (taken from git) and as it is now, each load in a fresh Python process, and prints side
by side: the outcome (fingerprints loaded, the one-line error, or the exception that escaped),
the wall time and the process's peak resident memory (VmHWM).

    python bench/readers.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._figures import ROOT, published

BEFORE = "0ba7e51"  # the last commit before the fingerprints reader had limits
HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes"  # noqa: E501

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from netcheck.errors import InputError
module = __import__(sys.argv[2], fromlist=["load_fingerprint_file"])
try:
    n = len(module.load_fingerprint_file(sys.argv[3]))
    outcome = f"loaded {n} fingerprints"
except InputError as exc:
    outcome = "InputError: " + str(exc).replace(sys.argv[3], "FILE")[:70]
except BaseException as exc:
    outcome = f"crash: {type(exc).__name__}: {str(exc)[:50]}"
seconds = time.perf_counter() - t0
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": hwm / 1024}))
"""


def _row(i: int) -> str:
    if i % 2:
        return f"prs_vendor_{i},prod,,body,contains,Blocked by gateway {i:08d},true,,,,note {i}"
    return f"prs_vendor_{i},prod,,body,regexp,blocked (by|from) gw{i:08d}[a-z]*,true,,,,"


def _write(path: Path, size: int, huge_field: bool = False, rows: int | None = None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        written, i = 0, 0
        if huge_field:
            fh.write(f"prs_big,prod,,body,contains,{'x' * 1_000_000},true,,,,\n")
        while written < size and (rows is None or i < rows):
            line = _row(i) + "\n"
            fh.write(line)
            written += len(line)
            i += 1
    return path


def _run(src: Path, module: str, file: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), module, str(file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        old = base / "old"
        (old / "before").mkdir(parents=True)
        text = subprocess.run(
            ["git", "show", f"{BEFORE}:netcheck/classify/fingerprints.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (old / "before" / "__init__.py").write_text("")
        (old / "before" / "fingerprints.py").write_text(text)
        files = {
            "50 MB CSV": _write(base / "big.csv", 50 * 2**20),
            "10,000 rows (at the cap)": _write(base / "cap.csv", 2**30, rows=10_000),
            "1 MB field": _write(base / "field.csv", 1000, huge_field=True),
        }
        with published("readers"):
            print("Fingerprints file readers: before (git " + BEFORE + ") and now, fresh process")
            print(f"{'file':<28} {'reader':<7} {'seconds':>8} {'peak MB':>8}  outcome")
            for label, path in files.items():
                for name, src, module in (
                    ("before", old, "before.fingerprints"),
                    ("now", ROOT, "netcheck.classify.fingerprints"),
                ):
                    r = _run(src, module, path)
                    print(
                        f"{label:<28} {name:<7} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f}  "
                        f"{r['outcome']}"
                    )


if __name__ == "__main__":
    main()
