"""The agent on staff machines: measure on a schedule, keep results in a local spool, and deliver
them to the collector as signed batches, in order, however long the machine was offline.

``state`` holds the enrollment (server, probe id, key) and counters; ``spool`` the fsynced
results and the signed batches waiting to go; ``uplink`` sends them with backoff; ``cycle`` runs
one measurement and delivery; ``install`` writes systemd, launchd and Task Scheduler
definitions; ``osproxy`` reads the system proxy settings of Windows and macOS.
"""
