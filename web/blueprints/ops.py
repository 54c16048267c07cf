"""Operations endpoints: ``GET /healthz`` (JSON) and ``GET /metrics`` (Prometheus text 0.0.4).

Both are for machines (a load balancer, a monitoring system) and carry no browser session, so
they are CSRF-exempt and answer no personal data: counts, ages and check results only.

Registering this blueprint also installs the request counter of ``web.metrics`` on the app:
every answered request (error pages and problem documents too) counts once, labelled with its
method, endpoint name (never the raw path, so that the label set stays bounded) and status.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy.exc import SQLAlchemyError

from web import operations
from web.app import services
from web.metrics import CONTENT_TYPE, EXTENSION, Family, Metrics, exposition, metrics

blueprint = Blueprint("ops", __name__)

TIER_LAG_LIMIT = 60.0  # seconds; app.config["HEALTH_TIER_LAG_SECONDS"] overrides it


@blueprint.record_once
def _install(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(EXTENSION, Metrics())


@blueprint.after_app_request
def _count(response: Response) -> Response:
    metrics().count_request(request.method, request.endpoint or "none", response.status_code)
    return response


def tier_lag_limit() -> float:
    return float(current_app.config.get("HEALTH_TIER_LAG_SECONDS", TIER_LAG_LIMIT))


@blueprint.get("/healthz")
def healthz() -> Response:
    """``{"status": "ok"|"degraded", "checks": {...}}`` with 200, or 503 when degraded."""
    built = services()
    database = operations.database_check(built)
    hops: list[operations.TierLag] | None = None
    if database.ok:
        try:
            hops = operations.tier_lag(built)
        except SQLAlchemyError:
            hops = None
    checks = {
        "database": database,
        "ca_keys": operations.ca_keys_check(built) if database.ok else operations.Check(
            False, "unknown: the database is unreachable"),
        "tier_lag": operations.tier_lag_check(hops, tier_lag_limit()),
    }
    healthy = all(check.ok for check in checks.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "checks": {name: {"status": "ok" if check.ok else "fail", "detail": check.detail}
                   for name, check in checks.items()},
    }
    if hops is not None:
        body["checks"]["tier_lag"]["oldest_pending_seconds"] = max(
            (hop.oldest_pending_seconds for hop in hops), default=0.0)
        body["checks"]["tier_lag"]["limit_seconds"] = tier_lag_limit()
    response = Response(json.dumps(body), status=200 if healthy else 503,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/metrics")
def metrics_text() -> Response:
    """Every metric of the instance in the Prometheus text exposition format 0.0.4."""
    built = services()
    counters = metrics()
    now = built.clock.now()
    requests = Family("jpki_http_requests_total", "HTTP requests answered, by method, endpoint "
                      "and status.", "counter")
    for (method, endpoint, status), count in sorted(counters.requests().items()):
        requests.add(count, method=method, endpoint=endpoint, status=status)
    ocsp = Family("jpki_ocsp_responses_total", "OCSP responses served, by certificate status "
                  "(or the status of an unsuccessful response).", "counter")
    for status, count in sorted(counters.ocsp_responses().items()):
        ocsp.add(count, status=status)
    pending = Family("jpki_tier_events_pending", "Identity events sent by a tier and not yet "
                     "applied by the next one.", "gauge")
    oldest = Family("jpki_tier_oldest_pending_seconds", "Age of the oldest event pending on "
                    "a hop (0 when none is pending).", "gauge")
    for hop in operations.tier_lag(built):
        pending.add(hop.pending, tier=hop.source, target=hop.target)
        oldest.add(hop.oldest_pending_seconds, tier=hop.source, target=hop.target)
    revocations = Family("jpki_revocations_total", "Certificates revoked since the instance "
                         "began.", "counter").add(operations.revocations_total(built))
    crls = Family("jpki_crl_next_update_seconds", "Seconds until the nextUpdate of each "
                  "partition's current CRL (negative once it is stale).", "gauge")
    for partition in operations.crl_partitions(built):
        crls.add(partition.seconds_to_next_update(now), ca=partition.ca,
                 partition=partition.partition)
    text = exposition([requests, ocsp, pending, oldest, revocations, crls])
    response = Response(text, status=200)
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response
