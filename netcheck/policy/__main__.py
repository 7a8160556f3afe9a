"""``python -m netcheck.policy``: regenerate ``netcheck/policy/schema.json`` from the models."""

from __future__ import annotations

import json
from pathlib import Path

from netcheck.policy.model import json_schema

SCHEMA_PATH = Path(__file__).with_name("schema.json")


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(SCHEMA_PATH)
