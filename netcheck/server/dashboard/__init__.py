"""The collector's live dashboard: server-rendered pages over its database, for read-only users.

In: the collector's ``Store``, data folder and optional policy. Out: ``Dashboard`` (its
``routes()`` are mounted by ``netcheck.server.app.build_app``). ``auth`` holds passwords,
sessions, CSRF and login limits; ``views`` reads what each page shows; ``words`` the pages'
own Spanish and English; ``templates/`` and ``static/`` the HTML and the one stylesheet.
"""

from __future__ import annotations

from netcheck.server.dashboard.routes import Dashboard

__all__ = ["Dashboard"]
