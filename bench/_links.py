"""Shaped links for the bench: the same namespaces/veth/tbf/nginx fixture the tests use.

The code lives in ``tests/shaped.py`` (CI imports it from there); the bench imports it from the
repository root so both measure on identical links."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.shaped import ShapedLink, require_root  # noqa: E402

__all__ = ["ShapedLink", "require_root"]
