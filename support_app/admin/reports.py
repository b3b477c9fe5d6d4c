"""`/reports/`: the desk's figures for a date range, per day / week / month or per agent,
category, channel, priority or tag (`support_app/reports`), as a chart with the table beneath,
and the same table as CSV. Admin and Store Manager (Reports: can_show)."""
from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..reports import report as reports
from ..reports.export import csv_response
from ..reports.periods import GROUP_LABELS, GROUPS, RangeError, parse_span
from . import permissions as perms
from .dashboard import human_duration
from .labels import NONE


def _share(value: float | None) -> str:
    return NONE if value is None else format_percent(value, format="#,##0%")


def _rating(value: float | None) -> str:
    return NONE if value is None else format_decimal(round(value, 2), format="#,##0.00")


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class ReportsView(BaseView):
    route_base = "/reports"
    class_permission_name = perms.REPORTS
    default_view = "show"
    base_permissions = ["can_show"]
    method_permission_name = {"show": "show", "export": "show"}

    @expose("/")
    @has_access
    def show(self):
        error, status, report = None, 200, None
        try:
            span = parse_span(request.args)
        except RangeError as err:
            error, status = str(err), 400
            span = parse_span({"group": request.args.get("group")
                               if request.args.get("group") in GROUPS else "day"})
        if error is None:
            report = reports.build(span)
        headings, rows = reports.table(report or reports.Report(span), duration=human_duration,
                                       share=_share, rating=_rating)
        chart = _chart(report) if report is not None and not report.empty else None
        page = self.render_template(
            "admin/reports.html", title=_l("Reports"), span=span, error=error,
            headings=headings, rows=list(rows), chart=chart,
            empty=report is None or report.empty, no_data=reports.NO_DATA,
            groups=[(g, GROUP_LABELS[g]) for g in GROUPS],
            export_url=url_for(f"{self.endpoint}.export", start=span.first.isoformat(),
                               end=span.last.isoformat(), group=span.group),
        )
        return page, status

    @expose("/export.csv")
    @has_access
    def export(self):
        try:
            span = parse_span(request.args)
        except RangeError as err:
            return str(err), 400, {"Content-Type": "text/plain; charset=utf-8"}
        report = reports.build(span)
        headings, rows = reports.table(report, heading=_csv_heading, duration=_minutes,
                                       share=_percent, rating=_rounded)
        name = f"report-{span.group}-{span.first.isoformat()}-{span.last.isoformat()}.csv"
        return csv_response(name, headings, rows)


def _csv_heading(heading: str, unit: str) -> str:
    """The CSV's units, said in the heading: minutes and percent as plain numbers."""
    if unit == reports.DURATION:
        return _("%(heading)s (minutes)", heading=heading)
    if unit == reports.SHARE:
        return _("%(heading)s (percent)", heading=heading)
    return heading


def _chart(report: reports.Report) -> dict[str, Any]:
    """What reports.js draws: created and resolved bars per row, and the backlog line
    for a time grouping."""
    return {
        "labels": [r.label for r in report.rows],
        "created": [r.created for r in report.rows],
        "resolved": [r.resolved for r in report.rows],
        "backlog": [r.backlog for r in report.rows] if report.span.by_time else None,
        "words": {"created": _("Created"), "resolved": _("Resolved"), "backlog": _("Backlog")},
    }
