"""What to measure: the built-in catalogue, targets files (YAML, Citizen Lab CSV), selection.

In: targets files and ``--service``/``--function`` filters. Out: ``Target`` records, the catalogue's
own first, each URL once.
"""

from __future__ import annotations

from netcheck.target import Target
from netcheck.targets import catalogue


def load_targets(
    targets_files: list[str], services: list[str], functions: list[str]
) -> list[Target]:
    """The built-in catalogue plus each targets file, narrowed by --service/--function."""
    merged = catalogue.builtin_targets()
    for path in targets_files:
        merged = catalogue.merge(merged, catalogue.load_targets_file(path))
    return catalogue.select(merged, services=services, functions=functions)
