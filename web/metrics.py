"""In-process counters of the web service, and the Prometheus text exposition format (0.0.4).

``jpki serve`` is one process (waitress threads plus the workers), so counters kept in memory
cover every request it answers; they start from zero when the process starts, which Prometheus
expects of a counter. Each application gets its own :class:`Metrics` (``metrics()`` during a
request); updates take a lock, so request threads may count at once.

The format is simple enough to write by hand (no ``prometheus_client`` dependency): ``# HELP`` and
``# TYPE`` lines, then one ``name{label="value",…} value`` line per sample, label values escaped
as the format requires (backslash, double quote, line feed).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cryptography.x509 import ocsp
from flask import current_app

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXTENSION = "jpki_metrics"  # app.extensions key

MetricType = Literal["counter", "gauge"]


@dataclass
class Metrics:
    """Counters of one application: HTTP requests and OCSP responses."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _ocsp: Counter[str] = field(default_factory=Counter)

    def count_request(self, method: str, endpoint: str, status: int) -> None:
        with self._lock:
            self._requests[(method, endpoint, str(status))] += 1

    def count_ocsp(self, status: str) -> None:
        with self._lock:
            self._ocsp[status] += 1

    def requests(self) -> dict[tuple[str, str, str], int]:
        """(method, endpoint, status) → requests answered."""
        with self._lock:
            return dict(self._requests)

    def ocsp_responses(self) -> dict[str, int]:
        """OCSP response status (``good``, ``revoked``, ``unknown``, or an unsuccessful
        response's status such as ``malformed_request``) → responses served."""
        with self._lock:
            return dict(self._ocsp)


def metrics() -> Metrics:
    """The counters of the application handling the current request."""
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, Metrics):
        found = current_app.extensions.setdefault(EXTENSION, Metrics())
    assert isinstance(found, Metrics)
    return found


def ocsp_status(der: bytes) -> str:
    """The status an OCSP response (DER) carries, as a metric label."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return "unparsable"
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return response.response_status.name.lower()
    statuses = {single.certificate_status.name.lower() for single in response.responses}
    return statuses.pop() if len(statuses) == 1 else "mixed"


# -- exposition ---------------------------------------------------------------------------------


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class Family:
    """One metric: its name, help text, type and samples (labels → value)."""

    name: str
    help: str
    type: MetricType
    samples: list[tuple[Mapping[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, value))
        return self

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.type}"
        for labels, value in self.samples:
            if labels:
                inner = ",".join(f'{key}="{_escape_label(str(val))}"'
                                 for key, val in labels.items())
                yield f"{self.name}{{{inner}}} {_number(value)}"
            else:
                yield f"{self.name} {_number(value)}"


def exposition(families: Iterable[Family]) -> str:
    """The text format 0.0.4 of every family, ending with a line feed."""
    return "".join(line + "\n" for family in families for line in family.lines())
