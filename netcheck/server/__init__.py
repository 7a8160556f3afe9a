"""The collector: one service that enrolls probes, takes their signed batches, and keeps them.

``store`` is the embedded database (SQLite in WAL mode) and ``archive`` the Parquet archive;
``app`` the Starlette application (enrollment, ingest, health, ``metrics``); ``dashboard`` the
read-only pages over the database; ``evidence`` and ``export`` hand the stored batches to
``netcheck verify``; ``serve`` runs it all on uvicorn with its limits (``netcheck.asgi``). The
command is ``netcheck server``.
"""
