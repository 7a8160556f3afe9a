"""The committed JSON Schema of a result record, generated from ``models.Result``.

``python -m netcheck.schema`` rewrites ``result.schema.json``; a test fails when it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from netcheck.models import SCHEMA_VERSION, Result

SCHEMA_PATH = Path(__file__).with_name("result.schema.json")


def schema_text() -> str:
    schema = Result.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://netcheck.invalid/schema/result-{SCHEMA_VERSION}.json"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
