"""Every flag of `netcheck run` (and so of `agent run`) reaches the run's options: a flag that
mapped to nothing would be accepted and silently ignored."""

from __future__ import annotations

import dataclasses
import inspect

from netcheck import runner
from netcheck.cli import run_cmd

#: flags `run` handles itself (where the records go), not part of the measurement
OWN = {"out", "json_out"}


def test_every_run_flag_is_a_run_option() -> None:
    fields = {f.name for f in dataclasses.fields(runner.RunOptions)}
    params = set(inspect.signature(run_cmd.run).parameters) - OWN
    lost = sorted(p for p in params if run_cmd._OPTION_OF.get(p, p) not in fields)
    assert lost == []


def test_run_options_carry_the_values_given() -> None:
    options = run_cmd.run_options(
        {"service": ["youtube"], "proxy_opt": "http://p:3128", "timeout": 2.0, "targets": None}
    )
    assert options.services == ["youtube"]
    assert options.proxy == "http://p:3128"
    assert options.timeout == 2.0
    assert tuple(options.targets) == ()
