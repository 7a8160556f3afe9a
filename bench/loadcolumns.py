"""What the report loader's ``browser_failed`` column costs (issue 16): decoding a JSON Lines
file with ``netcheck.report.fastjson`` as it was before the column (``BEFORE``, from git) and as
it is now, side by side in one process, alternating, best of ``--rounds`` in CPU seconds.

Files: the lab's real records (``sample_results/lab``) repeated to ``--records`` lines, with no
browser section (what every fleet holds today), and the same with one record in ten a page from
``run --browser`` (the records ``tests/report/test_report_browser.py`` builds: a degraded channel,
an ads-only page, Studio with its API cut by SNI).

    python bench/loadcolumns.py [--records 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from netcheck.output import dump_line  # noqa: E402
from netcheck.report import fastjson  # noqa: E402
from tests.report.test_report_browser import records as browser_records  # noqa: E402

BEFORE = "24dfb1e"  # fastjson.py before the browser_failed column


def _before(folder: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:netcheck/report/fastjson.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = folder / "fastjson_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("fastjson_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # msgspec resolves the structs' annotations through it
    spec.loader.exec_module(module)
    return module


def _write(path: Path, lines: list[str], n: int) -> Path:
    path.write_text("".join(itertools.islice(itertools.cycle(lines), n)), encoding="utf-8")
    return path


def _once(module: ModuleType, path: Path) -> float:
    """CPU seconds of one read: the machine is shared, and wall time follows its load."""
    t0 = time.process_time()
    data = module.read_files((0, [str(path)]))
    assert isinstance(data, bytes), data
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lab = [
        line + "\n"
        for f in sorted((ROOT / "sample_results" / "lab").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    pages = [dump_line(r) + "\n" for r in browser_records()]
    mixed = []
    for i, line in enumerate(lab * 9):  # nine lab records, then a browser page
        mixed.append(line)
        if i % 9 == 8:
            mixed.append(pages[(i // 9) % len(pages)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = _before(folder)
        files = {
            "no browser section": _write(folder / "plain.jsonl", lab, args.records),
            "1 in 10 from run --browser": _write(folder / "mixed.jsonl", mixed, args.records),
        }
        share = sum(1 for line in mixed if '"browser":{' in line) / len(mixed)
        one, five, _ = os.getloadavg()
        print(
            f"{args.records:,} records per file, best of {args.rounds}, CPU seconds of one "
            f"process (load average {one:.1f}, 5 min {five:.1f}, {os.cpu_count()} cores)"
        )
        print(f"browser records in the mixed file: {share:.0%}")
        for name, path in files.items():
            times: dict[str, list[float]] = {"before": [], "now": []}
            for _ in range(args.rounds):
                times["before"].append(_once(before, path))
                times["now"].append(_once(fastjson, path))
            b, n = min(times["before"]), min(times["now"])
            size = path.stat().st_size / 2**20
            print(
                f"{name:28s} {size:6.1f} MiB  before {b:.3f} s  now {n:.3f} s  "
                f"now/before {n / b:.3f}"
            )


if __name__ == "__main__":
    with published("loadcolumns"):
        main()
