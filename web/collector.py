"""The garbage collector's thresholds in jpki processes.

Issuing a certificate builds and drops tens of thousands of small objects (the linter's pyasn1
values and document nodes). Reference counting frees nearly all of them at once (the linter
breaks its own node cycles), yet with Python's default first-generation threshold (700
allocations) the collector runs every couple of certificates and scans every young object
then alive: about 0.2 ms per certificate issued, 6 % of the issuance rate (BENCHMARKS.md).
jpki processes run a first-generation collection every ``YOUNG_THRESHOLD`` allocations
instead; the older generations keep their thresholds.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune() -> None:
    """Set the first generation's threshold (idempotent)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
