"""Counter screens: the supervisors' operations dashboard (運用状況).

Tier lag per hop, revocations per day over the last two weeks (a bar chart drawn here as inline
SVG: no script, no external font), the current CRL of every partition with its next update, and
the OCSP responses this process has served. Instance-wide figures only: no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template
from flask.typing import ResponseReturnValue

from jukibridge.records import Role
from pki.validity import JST
from web import operations
from web.app import services
from web.blueprints import ops
from web.blueprints.counter import blueprint
from web.blueprints.counter.session import operator_required
from web.metrics import metrics

CRL_MARGIN = timedelta(hours=1)  # a CRL this close to its nextUpdate is shown as due
OCSP_LABELS = (("good", "有効"), ("revoked", "失効"), ("unknown", "不明"))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # "4/1"
    day: str  # "2026-04-01"


@dataclass(frozen=True)
class Chart:
    """A bar chart's geometry, in SVG user units."""

    width: int
    height: int
    left: int
    top: int
    bottom: int  # y of the baseline
    right: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value)
    total: int


def bar_chart(days: list[operations.DayCount], *, width: int = 640, height: int = 220
              ) -> Chart:
    """Bars for each day, scaled to the busiest day (at least 1)."""
    left, right, top, bottom = 40, width - 10, 20, height - 30
    peak = max((d.count for d in days), default=0)
    scale_max = max(peak, 1)
    slot = (right - left) / max(len(days), 1)
    bars = []
    for n, day in enumerate(days):
        bar_height = (bottom - top) * day.count / scale_max
        bars.append(Bar(x=round(left + n * slot + slot * 0.15, 1),
                        y=round(bottom - bar_height, 1), width=round(slot * 0.7, 1),
                        height=round(bar_height, 1), count=day.count,
                        label=f"{day.day.month}/{day.day.day}", day=day.day.isoformat()))
    values = sorted({0, scale_max // 2, scale_max}) if scale_max > 1 else [0, 1]
    ticks = [(round(bottom - (bottom - top) * v / scale_max, 1), v) for v in values]
    return Chart(width, height, left, top, bottom, right, bars, ticks,
                 sum(d.count for d in days))


def hop_label(name: str) -> str:
    """``cs:112089`` → CS（112089）; ``prefecture:11`` → 都道府県サーバ（11）; ``national``."""
    kind, _, code = name.partition(":")
    labels = {"cs": "CS", "prefecture": "都道府県サーバ", "national": "全国サーバ"}
    label = labels.get(kind, kind)
    return f"{label}（{code}）" if code else label


def ca_label(name: str) -> str:
    """``sign-1`` → 署名用 第1世代; ``auth-2`` → 利用者証明用 第2世代."""
    kind, _, number = name.partition("-")
    labels = {"sign": "署名用", "auth": "利用者証明用"}
    return f"{labels.get(kind, kind)} 第{number}世代" if number else name


def jst(at: datetime) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M")


@blueprint.get("/dashboard")
@operator_required(Role.SUPERVISOR)
def dashboard() -> ResponseReturnValue:
    """運用状況: tiers, revocations, CRLs and OCSP at a glance."""
    built = services()
    now = built.clock.now()
    limit = ops.tier_lag_limit()
    days = operations.revocations_per_day(built)
    served = metrics().ocsp_responses()
    ocsp_rows = [(label, served.get(status, 0)) for status, label in OCSP_LABELS]
    other = sum(count for status, count in served.items()
                if status not in dict(OCSP_LABELS))
    return render_template(
        "counter/dashboard.html",
        now=jst(now),
        hops=operations.tier_lag(built), lag_limit=limit, hop_label=hop_label,
        chart=bar_chart(days), revocations_total=operations.revocations_total(built),
        partitions=operations.crl_partitions(built), crl_now=now, crl_margin=CRL_MARGIN,
        ca_label=ca_label, jst=jst,
        ocsp_rows=ocsp_rows, ocsp_other=other, ocsp_total=sum(served.values()),
    )
