"""``python -m netcheck.schema`` regenerates the committed schema file."""

from __future__ import annotations

from netcheck.schema import SCHEMA_PATH, schema_text

SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
print(f"wrote {SCHEMA_PATH}")
