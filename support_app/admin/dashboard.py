"""The dashboard home: the desk's numbers, aggregated in SQL, drawn by the vendored
Chart.js. Users without the Dashboard permission land on their first screen instead."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, IndexView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_, case, func, or_, select

from ..extensions import db
from ..i18n import STATUS_LABELS
from ..models import STATUSES, TARGETS, Feedback, SupportUser, Ticket, utcnow
from ..reports.figures import seconds_between
from ..tickets import tags
from ..tickets.lifecycle import UNRESOLVED
from . import permissions as perms

DAYS = 30


def median_first_response_seconds() -> float | None:
    """The median of first_response_at - created_at: the middle row(s) picked in SQL."""
    answered = Ticket.first_response_at.is_not(None)
    count = db.session.scalar(select(func.count()).where(answered)) or 0
    if not count:
        return None
    delay = seconds_between(Ticket.first_response_at, Ticket.created_at)
    middle = db.session.scalars(
        select(delay).where(answered).order_by(delay)
        .offset((count - 1) // 2).limit(2 - count % 2)
    ).all()
    return float(sum(middle)) / len(middle)


def desk_stats(today: dt.date | None = None) -> dict[str, Any]:
    """Everything the dashboard draws, as plain JSON-able values."""
    today = today or utcnow().date()
    by_status = dict(db.session.execute(
        select(Ticket.status, func.count()).group_by(Ticket.status)).all())

    since = today - dt.timedelta(days=DAYS - 1)
    day = func.date(Ticket.created_at)
    per_day = {str(d): n for d, n in db.session.execute(
        select(day, func.count()).where(Ticket.created_at >= dt.datetime.combine(since, dt.time()))
        .group_by(day)).all()}
    days = [since + dt.timedelta(days=i) for i in range(DAYS)]

    per_agent = db.session.execute(
        select(SupportUser.first_name, SupportUser.last_name, func.count(Ticket.id))
        .join(Ticket, Ticket.assigned_to_id == SupportUser.id)
        .where(Ticket.status.in_(sorted(UNRESOLVED)))
        .group_by(SupportUser.id, SupportUser.first_name, SupportUser.last_name)
        .order_by(func.count(Ticket.id).desc())).all()
    unassigned = db.session.scalar(select(func.count()).where(
        Ticket.assigned_to_id.is_(None), Ticket.status.in_(sorted(UNRESOLVED)))) or 0

    rating, ratings = db.session.execute(
        select(func.avg(Feedback.rating), func.count(Feedback.id))).one()
    return {
        "by_status": {"labels": list(STATUSES), "values": [by_status.get(s, 0) for s in STATUSES],
                      "names": [str(STATUS_LABELS[s]) for s in STATUSES]},
        "per_day": {"labels": [d.isoformat() for d in days],
                    "values": [per_day.get(d.isoformat(), 0) for d in days]},
        "per_agent": {"labels": [f"{f} {l}".strip() for f, l, _n in per_agent],
                      "values": [n for _f, _l, n in per_agent]},
        "unassigned_open": unassigned,
        "total": sum(by_status.values()),
        "open": sum(by_status.get(s, 0) for s in UNRESOLVED),
        "median_first_response_seconds": median_first_response_seconds(),
        "average_rating": None if rating is None else round(float(rating), 2),
        "ratings": ratings,
    }


def sla_attainment(today: dt.date | None = None) -> list[dict[str, Any]]:
    """Per target, of the tickets opened in the last `DAYS` days whose target is decided
    (met, or breached): how many were met in time, and that share (None: none decided)."""
    today = today or utcnow().date()
    since = dt.datetime.combine(today - dt.timedelta(days=DAYS - 1), dt.time())
    columns = []
    for target in TARGETS:
        state, breached = getattr(Ticket, f"{target}_state"), getattr(Ticket, f"{target}_breached")
        in_time = and_(state == "met", breached.is_(False))
        columns += [func.count(case((in_time, 1))),
                    func.count(case((or_(state == "met", state == "breached", breached), 1)))]
    row = db.session.execute(select(*columns).where(Ticket.created_at >= since)).one()
    rows = []
    for i, target in enumerate(TARGETS):
        met, decided = row[2 * i], row[2 * i + 1]
        rows.append({"target": target, "met": met, "decided": decided,
                     "share": None if not decided else round(100 * met / decided)})
    return rows


def at_risk_now(limit: int = 10) -> list[Ticket]:
    """Open tickets whose worst target is at risk or breached, soonest due first (the
    `ix_tickets_sla_state_due` index)."""
    return list(db.session.scalars(
        select(Ticket).where(Ticket.sla_state.in_(("at_risk", "breached")))
        .order_by(Ticket.sla_due_at).limit(limit)))


def human_duration(seconds: float | None) -> str:
    """A delay in the reader's language: whole sentences to translate, so each language
    places its own units (an Arabic page put "min" before the number)."""
    if seconds is None:
        return "—"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return _("%(minutes)d min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return _("%(days)d d %(hours)d h", days=hours // 24, hours=hours % 24)


def tag_range(start: str | None, end: str | None,
              today: dt.date | None = None) -> tuple[dt.date, dt.date, bool]:
    """The "tickets per tag" date range from the form (`YYYY-MM-DD`, both days
    included): the last 30 days unless two valid dates in order are given. The
    third value says whether what was asked was refused."""
    today = today or utcnow().date()
    default = (today - dt.timedelta(days=DAYS - 1), today)
    if not start and not end:
        return (*default, False)
    try:
        first = dt.date.fromisoformat(str(start or "")[:10])
        last = dt.date.fromisoformat(str(end or "")[:10])
    except ValueError:
        return (*default, True)
    if last < first or (last - first).days > 3660:
        return (*default, True)
    return first, last, False


def tag_counts(first: dt.date, last: dt.date) -> list[tuple[str, int]]:
    return tags.counts(dt.datetime.combine(first, dt.time()),
                       dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))


class DashboardView(BaseView):
    """`/dashboard/`: the charts, for roles holding can_show on Dashboard."""

    route_base = "/dashboard"
    class_permission_name = perms.DASHBOARD
    default_view = "show"
    base_permissions = ["can_show"]

    @expose("/")
    @has_access
    def show(self):
        stats = desk_stats()
        first, last, refused = tag_range(request.args.get("from"), request.args.get("to"))
        return self.render_template("admin/dashboard.html", stats=stats,
                                    tag_from=first, tag_to=last, tag_range_refused=refused,
                                    tag_counts=tag_counts(first, last),
                                    first_response=human_duration(
                                        stats["median_first_response_seconds"]),
                                    sla_attainment=sla_attainment(), at_risk=at_risk_now(),
                                    title=_l("Dashboard"))


class DashboardIndexView(IndexView):
    """FAB's home page: the dashboard for those allowed, else the first allowed screen."""

    index_template = "admin/index.html"

    @expose("/")
    def index(self):
        if current_user.is_authenticated:
            sm = self.appbuilder.sm
            if sm.has_access("can_show", perms.DASHBOARD):
                return redirect(url_for("DashboardView.show"))
            if sm.has_access("can_list", perms.TICKETS):
                return redirect(url_for("TicketView.list"))
        return self.render_template(self.index_template, appbuilder=self.appbuilder)
