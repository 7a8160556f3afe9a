"""``/metrics``: the fleet in Prometheus text format, read from the collector's database.

Out: probes per network, each probe's last upload and stale probes (no upload for
``STALE_SECONDS``), targets by network, verdict and technique (their latest state), records
dropped by agents' spools, and the ingest counters (batches stored, repeats, refusals by status).
"""

from __future__ import annotations

import time

from netcheck.server.store import Store

STALE_SECONDS = 3 * 3600


def _label(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(store: Store, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")

    probes = store.probes()
    per_network: dict[str, int] = {}
    stale: dict[str, int] = {}
    for p in probes:
        if p["revoked_at"] is not None:
            continue
        per_network[p["network"]] = per_network.get(p["network"], 0) + 1
        seen = p["last_seen"]
        stale.setdefault(p["network"], 0)
        if seen is None or now - seen > STALE_SECONDS:
            stale[p["network"]] += 1
    family("netcheck_probes", "gauge", "Enrolled, unrevoked probes per network.")
    lines += [f'netcheck_probes{{network="{_label(n)}"}} {c}' for n, c in per_network.items()]
    family("netcheck_probes_stale", "gauge", f"Probes with no upload for {STALE_SECONDS} s.")
    lines += [f'netcheck_probes_stale{{network="{_label(n)}"}} {c}' for n, c in stale.items()]
    family("netcheck_probe_last_upload_seconds", "gauge", "Unix time of a probe's last upload.")
    for p in probes:
        if p["last_seen"] is not None:
            lines.append(
                f'netcheck_probe_last_upload_seconds{{probe="{_label(p["id"])}",'
                f'network="{_label(p["network"])}"}} {p["last_seen"]:.3f}'
            )
    family("netcheck_probe_dropped_records", "counter", "Records an agent's spool had to drop.")
    for p in probes:
        lines.append(
            f'netcheck_probe_dropped_records{{probe="{_label(p["id"])}",'
            f'network="{_label(p["network"])}"}} {p["dropped"]}'
        )
    targets: dict[tuple[str, str, str], int] = {}
    for row in store.latest():
        key = (row["network"], row["verdict"], row["technique"] or "")
        targets[key] = targets.get(key, 0) + 1
    family("netcheck_targets", "gauge", "Targets by network, latest verdict and technique.")
    for (network, verdict, technique), count in sorted(targets.items()):
        lines.append(
            f'netcheck_targets{{network="{_label(network)}",verdict="{_label(verdict)}",'
            f'technique="{_label(technique)}"}} {count}'
        )
    family("netcheck_ingest_total", "counter", "Collector events: batches, records, refusals.")
    for name, value in sorted(store.counters().items()):
        lines.append(f'netcheck_ingest_total{{event="{_label(name)}"}} {value}')
    return "\n".join(lines) + "\n"
