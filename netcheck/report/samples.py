"""Sample reports from a real lab run: ``python -m netcheck.report.samples``.

In: every ``sample_results/**/*.jsonl`` except ``sample_results/reports/`` — the JSONL that
``netcheck lab run --scenario all --out sample_results/lab`` copied there (``scripts/make-samples``
does both steps; samples are never written by hand nor synthesised). No results is an error.
Out: in ``sample_results/reports/``: the comms report (es, en; HTML, Markdown), the audit tables
(CSV and Parquet folders, HTML), IT's Prometheus text and JSON; and ``docs/comms-report.png``, a
screenshot of the Spanish comms report by headless Chromium (when ``chromium`` is installed).

The policy is ``policies/lab.yaml`` (one network per lab scenario, labelled ``lab-<scenario>`` as
the lab's probe runs are), unless ``--policy`` names another.

``scenario_results``/``write_scenario`` build a small synthetic fleet (two probes, three days) for
the report tests only; it is never written into ``sample_results``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from netcheck.errors import InputError
from netcheck.models import ProbeInfo, Result, Steps, Target, TcpStep
from netcheck.output import dump_line
from netcheck.report.make import load_table, write_report

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
OUTPUTS = (
    ("comms", "html", "es", "comms.es.html"),
    ("comms", "md", "es", "comms.es.md"),
    ("comms", "html", "en", "comms.en.html"),
    ("comms", "md", "en", "comms.en.md"),
    ("audit", "csv", "es", "audit-csv"),
    ("audit", "parquet", "es", "audit-parquet"),
    ("audit", "html", "es", "audit.es.html"),
    ("it", "prom", "es", "netcheck.prom"),
    ("it", "json", "es", "it.json"),
)

LAB_POLICY = "policies/lab.yaml"
DAYS = ("2026-11-26", "2026-11-27", "2026-11-28")
CHANNEL = "https://www.youtube.com/@MinisterioLab"

# (service, function, url, official, category) → per network label, per day: outcome
# outcome = (verdict, technique, vendor)
OK = ("accessible", None, None)
BLOCKPAGE = ("blocked", "http-blockpage", "squid")
SINKHOLE = ("blocked", "dns-sinkhole", None)
RESET = ("blocked", "tcp-reset", None)
DENIED = ("blocked", "proxy-denied", "squid")
Outcome = tuple[str, str | None, str | None]
SCENARIO: list[tuple[tuple[str, str, str, bool, str | None], dict[str, list[Outcome]]]] = [
    (
        ("youtube", "official_channel", CHANNEL, True, "MMED"),
        {"central": [OK, BLOCKPAGE, BLOCKPAGE], "comms-office": [OK, OK, OK]},
    ),
    (
        ("youtube", "view", "https://www.youtube.com/", False, "MMED"),
        {"central": [SINKHOLE] * 3, "comms-office": [OK] * 3},
    ),
    (
        ("youtube", "live_ingest", "https://a.rtmps.youtube.com:443/", False, "MMED"),
        {"central": [RESET] * 3, "comms-office": [OK, RESET, RESET]},
    ),
    (
        ("facebook", "view", "https://www.facebook.com/", False, "GRP"),
        {"central": [OK] * 3, "comms-office": [OK] * 3},
    ),
    (
        ("facebook", "admin", "https://business.facebook.com/", False, "GRP"),
        {"central": [OK] * 3, "comms-office": [OK] * 3},
    ),
    (
        ("x", "official_channel", "https://x.com/MinisterioEj", True, "GRP"),
        {"central": [OK] * 3, "comms-office": [OK] * 3},
    ),
    (
        ("tiktok", "view", "https://www.tiktok.com/", False, "MMED"),
        {"central": [DENIED] * 3, "comms-office": [DENIED] * 3},
    ),
]
PROBES = {"central": "probe-central-01", "comms-office": "probe-comms-01"}


def scenario_results() -> list[Result]:
    out = []
    for (service, function, url, official, category), by_net in SCENARIO:
        target = Target(
            url=url, service=service, function=function, official=official, category=category
        )
        for network, outcomes in by_net.items():
            for day, (verdict, technique, vendor) in zip(DAYS, outcomes, strict=True):
                probe = ProbeInfo(
                    id=PROBES[network],
                    software_version="0.1.0",
                    started_at=f"{day}T09:00:00.000Z",
                    network=network,
                )
                out.append(
                    Result.model_validate(
                        {
                            "id": f"{PROBES[network]}-{day}-{service}-{function}",
                            "probe": probe,
                            "target": target,
                            "measured_at": f"{day}T09:00:05.000Z",
                            "verdict": verdict,
                            "technique": technique,
                            "vendor": vendor,
                            "evidence": f"{verdict} ({technique or 'no technique'})",
                            "steps": Steps(tcp=[TcpStep(ip="192.0.2.1", port=443, runtime_ms=20)]),
                        }
                    )
                )
    return out


def write_scenario(root: Path) -> Path:
    """The scenario in the fleet layout ``<root>/<probe>/<date>/run.jsonl``; returns ``root``."""
    for r in scenario_results():
        path = root / r.probe.id / r.measured_at[:10] / "run.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(dump_line(r) + "\n")
    return root


def result_files(root: Path, skip: Path) -> list[str]:
    skip = skip.resolve()
    return sorted(str(p) for p in root.rglob("*.jsonl") if skip not in p.resolve().parents)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html: Path, png: Path, *, size: str = "1200,1600", timeout: float = 60) -> None:
    """Render ``html`` with headless Chromium; the flags keep it off the network entirely."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netcheck-chromium-") as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={size}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )


def make_samples(results: Path, out: Path, policy: str | None, png: Path | None) -> list[Path]:
    files = result_files(results, out)
    if not files:
        raise InputError(
            f"no results under {results}: run scripts/make-samples (netcheck lab run "
            "--scenario all --out sample_results/lab) first",
            field="--results",
        )
    frame, doc = load_table(files, policy or LAB_POLICY)
    written: list[Path] = []
    for audience, fmt, lang, name in OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        done = write_report(frame, doc, audience, fmt, lang, target)
        assert not isinstance(done, str)
        written.extend(done)
    if png is not None and chromium() is not None:
        screenshot(out / "comms.es.html", png)
        written.append(png)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the sample reports.")
    parser.add_argument("--results", type=Path, default=Path("sample_results"))
    parser.add_argument("--out", type=Path, default=Path("sample_results/reports"))
    parser.add_argument("--policy", default=None)
    parser.add_argument("--screenshot", type=Path, default=Path("docs/comms-report.png"))
    args = parser.parse_args()
    try:
        written = make_samples(args.results, args.out, args.policy, args.screenshot)
    except InputError as exc:
        raise SystemExit(f"netcheck: error: {exc}") from None
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
