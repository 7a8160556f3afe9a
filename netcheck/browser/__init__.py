"""Browser mode (issue 16): does the page work for a person?

In: page targets and the probe's settings. Out: each record's ``browser`` section — what a real
headless Chromium (the staff machine's own, driven by Playwright: never downloaded) loaded and
what failed, each failed host measured by netcheck's own pipeline — and the verdict judged again
by ``netcheck.classify.browser``.

- ``launch``: finding the browser (or refusing cleanly: ``BrowserMissing``, exit 2), the
  throwaway HOME with the probe's trust anchors in an NSS database, proxy and sandbox flags;
- ``capture``: one page in a fresh context: requests, failures, title, events, screenshot;
- ``session``: a run's pages, their failed hosts measured once each.

Only ``session`` imports Playwright, and only when a browser run starts.
"""
