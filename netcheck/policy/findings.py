"""Findings: what the comparison of measured results with the declared policy concludes.

In: nothing (this is the shape). Out: the frozen ``Finding`` record that
``netcheck.policy.compare`` produces and ``netcheck check`` prints as a table or JSON lines.

Kinds, from the agency's point of view:

- ``self-blocking``       the policy allows it (or it is an official channel the policy says must
                          be reachable on this network) and the network blocks it
- ``unenforced-block``    a rule blocks it and it loads
- ``bandwidth-shortfall`` allowed and reachable, but below the rule's ``requires``
- ``compliant``           the network does what the policy says
- ``undeclared``          no rule covers it, only the default action does
- ``inconclusive``        the measurement cannot tell (site down, inconclusive verdict)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netcheck.models import Frozen, Target

FindingKind = Literal[
    "self-blocking",
    "unenforced-block",
    "bandwidth-shortfall",
    "compliant",
    "undeclared",
    "inconclusive",
]
FINDING_KINDS: tuple[str, ...] = FindingKind.__args__  # type: ignore[attr-defined]
FAILING_KINDS = frozenset({"self-blocking", "unenforced-block"})


class Finding(Frozen):
    kind: FindingKind
    target: Target
    network: str | None = Field(None, description="policy network id (or the probe's label)")
    rule: str = Field(description="rule id, or 'default'")
    rule_file: str
    rule_line: int | None = None
    decision: Literal["allow", "block"]
    official_channel: bool = Field(False, description="the policy says it must be reachable")
    verdict: str
    technique: str | None = None
    vendor: str | None = None
    evidence: str = Field(description="one sentence")
    result_id: str
    config_line: str | None = Field(
        None, description="file:line of the config line that most likely blocked it"
    )
    config_how: str | None = None
    measured_at: str
    probe_id: str
