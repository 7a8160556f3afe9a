"""``python -m netcheck`` is the ``netcheck`` command."""

from __future__ import annotations

from netcheck.cli import main

main()
