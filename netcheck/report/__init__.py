"""Reports for the three audiences (comms, audit, IT), and aggregation at fleet scale.

In: result files (``.jsonl``, one ``models.Result`` per line) or folders of them, or a
hive-partitioned Parquet dataset written by ``ingest``; optionally a policy. Out: a comms report
(HTML, Markdown; Spanish or English), audit tables (CSV, Parquet, HTML), IT metrics (Prometheus
text exposition, JSON).

Fleet layout. Probes write ``results/<probe_id>/<YYYY-MM-DD>/*.jsonl``; any folder tree of
``.jsonl`` files is read the same way (the layout is a convention, not a requirement: probe,
network and date come from the records, not from the path). ``ingest.write_dataset`` turns such a
tree into a Parquet dataset partitioned ``date=YYYY-MM-DD/``, one flat row per record, which
``load.load`` reads back with only the columns a report needs.

Nothing here builds a ``Result`` per record: ``load`` decodes JSON with msgspec into the summary
fields only (the steps' evidence is skipped, except TCP connect times), the
policy engine runs once per distinct (target, network, outcome) in ``judge``, and every
aggregation is a pandas groupby over columns.

Pipeline: ``load`` → ``judge`` (findings, when a policy is given) → ``comms`` / ``audit`` / ``it``
(with ``charts`` and ``i18n``) → files.
"""

AUDIENCES = ("comms", "audit", "it")
