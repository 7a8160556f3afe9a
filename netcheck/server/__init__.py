"""The collector: one service that enrolls probes, takes their signed batches, and keeps them.

``store`` is the embedded database (SQLite in WAL mode) and the Parquet archive; ``app`` the
Starlette application (enrollment, ingest, health, metrics); ``serve`` runs it on uvicorn with
its limits. The command is ``netcheck server``.
"""
