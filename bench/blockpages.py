"""Block-page benchmark: recall and false alarms per language and vendor class.

Run: ``python bench/blockpages.py``. No network, no root: pure classification.

Every page of netcheck's own corpus (tests/data/blockpages: block pages in many languages and
vendor styles, and lookalikes — consent and login walls, "content not available", bot checks,
CDN and rate-limit pages, default server and maintenance pages — plus ordinary pages of the
services) is served in place of an agency's official channel on Facebook, YouTube, X and
Instagram, as written in a targets file with no ``expect``, over plain HTTP and through a TLS-
intercepting proxy. Each becomes the record a probe would write and goes through
``classify_result``. A block page counts as found when the verdict is ``blocked``; a lookalike
or ordinary page is a false alarm when it is (and is counted apart when ``inconclusive``).
Splits are reported apart, in the order the batches were written (``tests/classify/corpus.py``
``BATCHES`` says how each was used: tuned on, looked at after being measured, or held out). The
same pages are also served in place of a site outside the catalogue, where no brand is
expected: there only words, page shape and vendor fingerprints decide.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from netcheck.classify import classify_result  # noqa: E402
from netcheck.classify.lexicon import lexicon_languages  # noqa: E402
from tests.classify.corpus import (  # noqa: E402
    SPLIT_NOTES,
    Page,
    Served,
    agency_targets,
    cases,
    serve,
    splits,
)

Tally = dict[str, list[int]]  # group -> [hits, total]
SPLITS = splits()


def _add(table: Tally, key: str, hit: bool) -> None:
    cell = table.setdefault(key, [0, 0])
    cell[0] += int(hit)
    cell[1] += 1


def _rate(cell: list[int]) -> str:
    hits, total = cell
    return f"{hits:4d}/{total:<4d} {100.0 * hits / total:6.1f}%" if total else "   -"


def _print_table(title: str, table: Tally) -> None:
    print(f"  {title}")
    for key in sorted(table):
        print(f"    {key:<24} {_rate(table[key])}")


def _no_context() -> None:
    """The same pages in place of a site outside the catalogue: words, shape, vendor only."""
    recall: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(dict))
    alarms: dict[str, Tally] = defaultdict(dict)
    for case in cases(context=False):
        verdict = classify_result(case.record).verdict
        blocked = verdict == "blocked"
        page = case.page
        if page.kind == "block":
            _add(recall[page.split]["language"], page.lang, blocked)
            _add(recall[page.split]["vendor class"], page.klass, blocked)
            _add(recall[page.split]["all"], "all", blocked)
        else:
            _add(alarms[page.split], "all", blocked)
            _add(alarms[page.split], "inconclusive", verdict == "inconclusive")
    print("== without brand context (a site outside the catalogue, no expectations) ==")
    for split in SPLITS:
        print(f"{split}:")
        for group in ("language", "vendor class"):
            _print_table(f"recall by {group}", recall[split][group])
        r, a = recall[split]["all"]["all"], alarms[split]["all"]
        doubt = alarms[split]["inconclusive"]
        print(f"  recall {_rate(r)}   false alarms {_rate(a)}   inconclusive {_rate(doubt)}")


def _cost() -> None:
    """What one classification costs: a 64 kB ordinary page (no cue to stop early on) and the
    corpus's small pages, median of repeated runs, each page new so no cache helps."""
    target = agency_targets()[1]
    filler = "<p>Lorem ipsum dolor sit amet, <a href='/x'>consectetur</a> adipiscing elit.</p>"
    times = []
    for n in range(7):
        body = f"<html><head><title>Canal {n} - YouTube</title></head><body>"
        body = (body + filler * 1000)[: 64 * 1024]
        page = Page(f"big{n}", "cost", "page", "en", "service", None, 200, (), (), body)
        record = serve(page, target, "intercepted-https").record
        start = time.perf_counter()
        classify_result(record)
        times.append(time.perf_counter() - start)
    small = list(cases())[:400]
    start = time.perf_counter()
    for case in small:
        classify_result(case.record)
    per_case = (time.perf_counter() - start) / len(small)
    print(
        f"cost: a 64 kB page {statistics.median(times) * 1000:.1f} ms (median of 7); "
        f"corpus pages {per_case * 1000:.2f} ms each ({len(small)} cases)"
    )


def main() -> None:
    recall: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(dict))
    alarms: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(dict))
    misses: list[tuple[Served, str]] = []
    vendor_named: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    doubt: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pages: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    # split -> (lexicon's languages or not, block page?) -> [blocked, inconclusive, total]
    reads_tally: dict[str, dict[tuple[str, bool], list[int]]] = defaultdict(dict)
    for case in cases():
        page = case.page
        got = classify_result(case.record)
        blocked = got.verdict == "blocked"
        block_page = page.kind == "block"
        tables = recall if block_page else alarms
        if not block_page:
            doubt[page.split][0] += int(got.verdict == "inconclusive")
            doubt[page.split][1] += 1
        kind = "vendor class" if block_page else "lookalike class"
        for group, key in (
            ("language", page.lang),
            (kind, page.klass),
            ("transport", case.transport),
            ("all", "all"),
        ):
            _add(tables[page.split][group], key, blocked)
        if page.vendor:
            cell = vendor_named[page.split]
            cell[0] += int(got.vendor == page.vendor)
            cell[1] += 1
        read = "lexicon's languages" if page.lang in lexicon_languages() else "other languages"
        reads_tally[page.split].setdefault((read, block_page), [0, 0, 0])
        cell3 = reads_tally[page.split][(read, block_page)]
        cell3[0] += int(blocked)
        cell3[1] += int(got.verdict == "inconclusive")
        cell3[2] += 1
        pages[page.split]["block" if block_page else "other"].add(page.id)
        if blocked != block_page:
            misses.append((case, got.evidence))
            pages[page.split]["wrong"].add(page.id)
    with published("blockpages"):
        for split in SPLITS:
            print(f"== {split} split: {SPLIT_NOTES[split]} ==")
            print("recall (block pages called blocked):")
            for group, table in recall[split].items():
                _print_table(group, table)
            print(f"  vendor named      {_rate(vendor_named[split])}")
            print("false alarms (lookalikes and real pages called blocked):")
            for group, table in alarms[split].items():
                _print_table(group, table)
            print(f"  inconclusive       {_rate(doubt[split])}   (not accused, not accessible)")
            print()
        _no_context()
        print()
        _cost()
        print()
        print("in place of Facebook/YouTube/X/Instagram channels (cases: page x URL x transport):")
        for split in SPLITS:
            if not recall[split]["all"]:
                continue
            r, a = recall[split]["all"]["all"], alarms[split]["all"]["all"]
            ids = pages[split]
            missed, alarmed = len(ids["wrong"] & ids["block"]), len(ids["wrong"] & ids["other"])
            print(
                f"{split:<8} recall {r[0]}/{r[1]} = {100.0 * r[0] / r[1]:.1f}%, "
                f"false alarms {a[0]}/{a[1]} = {100.0 * a[0] / a[1]:.1f}%   "
                f"(pages: {missed} of {len(ids['block'])} block pages missed somewhere, "
                f"{alarmed} of {len(ids['other'])} others called blocked somewhere)"
            )
        print()
        print(
            f"by whether the page is in one of the lexicon's {len(lexicon_languages())} languages "
            "(blocked / inconclusive):"
        )
        for split in SPLITS:
            parts = []
            for (read, block_page), (hit, doubt, total) in sorted(reads_tally[split].items()):
                what = "block pages" if block_page else "others"
                parts.append(f"{read} {what} {hit}/{total} blocked, {doubt} inconclusive")
            print(f"{split:<8} " + "; ".join(parts))
    if "-v" in sys.argv:
        for case, evidence in misses:
            print(f"MISS {case.page.split} {case.page.id} {case.transport} {case.target.url}")
            print(f"     {evidence}")


if __name__ == "__main__":
    main()
