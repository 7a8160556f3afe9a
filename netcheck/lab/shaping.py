"""Traffic shaping on the gateway: one service's downloads squeezed through an htb class.

In: the gateway's client-facing interface, the shaped service's address block and a rate. Out: the
``tc`` command lines that build the qdisc (kept as ``tc.sh`` in the scenario's configs), and
``apply`` to run them. Shaping the client-facing interface's egress limits what the client
downloads from that service; everything else goes through an unshaped class.
"""

from __future__ import annotations

import shlex

from netcheck.lab import topology

UNSHAPED_RATE = "10gbit"


def commands(dev: str, shaped_net: str | None, rate: str) -> list[list[str]]:
    if shaped_net is None:
        return []
    return [
        ["tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "10"],
        _htb_class(dev, "1:10", "rate", UNSHAPED_RATE),
        _htb_class(dev, "1:20", "rate", rate, "ceil", rate),
        [*_tc("filter", dev), "protocol", "ip", "prio", "1", "u32"]
        + ["match", "ip", "src", shaped_net, "flowid", "1:20"],
    ]


def _tc(what: str, dev: str) -> list[str]:
    """``tc <what> add`` under the root htb qdisc (handle ``1:``) of ``dev``."""
    return ["tc", what, "add", "dev", dev, "parent", "1:"]


def _htb_class(dev: str, classid: str, *rates: str) -> list[str]:
    return [*_tc("class", dev), "classid", classid, "htb", *rates]


def script(dev: str, shaped_net: str | None, rate: str) -> str:
    lines = [
        "#!/bin/sh",
        "# netcheck lab shaping (run in namespace nclab-gateway)",
        f"tc qdisc del dev {dev} root 2>/dev/null || true",
    ]
    lines += [shlex.join(cmd) for cmd in commands(dev, shaped_net, rate)]
    return "\n".join(lines) + "\n"


def apply(dev: str, shaped_net: str | None, rate: str) -> None:
    topology.ns_run(topology.GATEWAY, ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
    for cmd in commands(dev, shaped_net, rate):
        topology.ns_run(topology.GATEWAY, cmd)
