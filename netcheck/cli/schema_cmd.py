"""``netcheck schema``: print the JSON Schema of a result record."""

from __future__ import annotations

from netcheck.schema import schema_text


def schema() -> None:
    """Print the JSON Schema of the records netcheck writes."""
    print(schema_text(), end="")
