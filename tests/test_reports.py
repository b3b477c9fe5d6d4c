"""Report figures against hand-computed fixtures: counts, median and 90th percentile
(linear interpolation, as PostgreSQL's percentile_cont), backlog, CSAT and SLA
attainment, per day / week / month and per dimension; empty ranges; days cut at the
desk's local midnight (the default SLA calendar's time zone)."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import update

from support_app.extensions import db
from support_app.models import Feedback, SlaCalendar, Tag, Ticket, TicketTag
from support_app.reports import figures
from support_app.reports import report as reports
from support_app.reports.periods import RangeError, Span, parse_span
from support_app.security import roles

from .admin_helpers import desk_client, login


HOURS = {"mon": [["09:00", "17:00"]]}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _ticket(factory, person, created: str, **columns) -> int:
    ticket = factory.ticket(person, **{k: columns.pop(k) for k in ("category", "channel", "priority")
                                       if k in columns})
    values = {"created_at": at(created), **{k: at(v) if isinstance(v, str) and v[:2] == "20" else v
                                            for k, v in columns.items()}}
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**values))
    db.session.commit()
    return ticket.id


def _rate(ticket_id: int, rating: int, when: str) -> None:
    ticket = db.session.get(Ticket, ticket_id)
    db.session.add(Feedback(ticket_id=ticket_id, customer_id=ticket.customer_id, rating=rating,
                            created_at=at(when)))
    db.session.commit()


@pytest.fixture
def desk(factory):
    """Six tickets around 1-3 March 2026 (UTC desk). Delays in seconds:
    T1 first response 1800, resolved 7200 (on the 1st); T2 86400 / 93600 (on the 2nd);
    T3 600, open; T4 open since February; T5 from February, resolved on the 3rd
    (259200); T6 after the range."""
    customer = factory.customer()
    agent = factory.agent(name="Aisha Agent")
    t = {}
    t[1] = _ticket(factory, customer, "2026-03-01 10:00", category="billing", priority="high",
                   first_response_at="2026-03-01 10:30", resolved_at="2026-03-01 12:00",
                   status="resolved", assigned_to_id=agent.user.id,
                   first_response_due_at="2026-03-01 11:00", first_response_breached=False,
                   resolution_due_at="2026-03-01 11:30", resolution_breached=True)
    t[2] = _ticket(factory, customer, "2026-03-01 11:00", category="billing",
                   first_response_at="2026-03-02 11:00", resolved_at="2026-03-02 13:00",
                   status="closed", closed_at="2026-03-02 13:00",
                   first_response_due_at="2026-03-01 15:00", first_response_breached=True,
                   resolution_due_at="2026-03-03 11:00", resolution_breached=False)
    t[3] = _ticket(factory, customer, "2026-03-02 09:00", first_response_at="2026-03-02 09:10",
                   status="in_progress", assigned_to_id=agent.user.id)
    t[4] = _ticket(factory, customer, "2026-02-27 09:00")
    t[5] = _ticket(factory, customer, "2026-02-28 08:00", resolved_at="2026-03-03 08:00",
                   status="resolved")
    t[6] = _ticket(factory, customer, "2026-03-04 09:00", first_response_at="2026-03-04 09:05")
    _rate(t[1], 5, "2026-03-01 13:00")
    _rate(t[2], 3, "2026-03-02 14:00")
    _rate(t[5], 4, "2026-03-03 09:00")
    _rate(t[6], 1, "2026-03-04 10:00")
    return {"tickets": t, "agent": agent}


@pytest.fixture
def tagged(desk):
    """The desk's tickets tagged: T1 "Refund" and "VIP" (two tags), T2 and T6 "Refund",
    T5 "VIP"; T3 and T4 carry none."""
    t = desk["tickets"]
    refund, vip = Tag(name="Refund", name_key="refund"), Tag(name="VIP", name_key="vip")
    db.session.add_all([refund, vip])
    db.session.flush()
    db.session.add_all([TicketTag(ticket_id=t[n], tag_id=tag.id)
                        for n, tag in ((1, refund), (1, vip), (2, refund), (6, refund), (5, vip))])
    db.session.commit()
    return desk


def approx(seconds: float):
    return pytest.approx(seconds, abs=0.01)


def span(first: str, last: str, group: str = "day") -> Span:
    return parse_span({"start": first, "end": last, "group": group})


def test_per_day_figures_match_the_hand_computed_ones(app_ctx, desk):
    report = reports.build(span("2026-03-01", "2026-03-03"))
    one, two, three = report.rows
    assert [r.label for r in report.rows] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [(r.created, r.resolved, r.backlog) for r in report.rows] == [(2, 1, 3), (1, 1, 3),
                                                                         (0, 1, 2)]
    assert one.first_response == figures.Timing(1, 1800, 1800, 1, 1)
    assert one.resolution == figures.Timing(1, 7200, 7200, 1, 0)
    # Two first responses on the 2nd (86400 s and 600 s): median halfway, p90 at 0.9.
    assert two.first_response.count == 2 and (two.first_response.sla_total,
                                              two.first_response.sla_met) == (1, 0)
    assert two.first_response.median == pytest.approx(43500, abs=0.01)
    assert two.first_response.p90 == pytest.approx(600 + 0.9 * 85800, abs=0.01)
    assert two.resolution.sla_share == 1.0 and two.resolution.median == pytest.approx(93600, abs=0.01)
    assert three.first_response is None and three.resolution.median == pytest.approx(259200, abs=0.01)
    assert (one.csat.average, one.csat.satisfied_share) == (5, 1.0)
    assert (two.csat.average, two.csat.satisfied_share) == (3, 0.0)
    assert (three.csat.count, three.csat.satisfied_share) == (1, 1.0)


def test_percentiles_over_three_values_interpolate_like_percentile_cont(app_ctx, desk):
    (row,) = reports.build(span("2026-03-01", "2026-03-03", "channel")).rows
    # first responses 600, 1800, 86400: p90 sits at 0.8 between the 2nd and the 3rd
    assert row.first_response.median == pytest.approx(1800, abs=0.01)
    assert row.first_response.p90 == pytest.approx(1800 + 0.8 * 84600, abs=0.01)
    # resolutions 7200, 93600, 259200
    assert row.resolution.median == pytest.approx(93600, abs=0.01)
    assert row.resolution.p90 == pytest.approx(93600 + 0.8 * 165600, abs=0.01)
    assert (row.created, row.resolved, row.backlog) == (3, 3, 2)
    assert row.csat.count == 3 and row.csat.average == pytest.approx(4.0)
    assert row.csat.satisfied_share == pytest.approx(2 / 3)


def test_per_dimension_rows_are_labelled_for_people(app_ctx, desk):
    by_category = {r.label: r for r in reports.build(span("2026-03-01", "2026-03-03", "category")).rows}
    assert set(by_category) == {"Billing", "Other"}
    billing, other = by_category["Billing"], by_category["Other"]
    assert (billing.created, billing.resolved, billing.backlog) == (2, 2, 0)
    assert (other.created, other.resolved, other.backlog) == (1, 1, 2)  # T3 and T4 stay open
    by_agent = {r.label: r for r in reports.build(span("2026-03-01", "2026-03-03", "agent")).rows}
    assert set(by_agent) == {"Aisha Agent", "Unassigned"}
    assert by_agent["Aisha Agent"].created == 2 and by_agent["Aisha Agent"].backlog == 1
    by_priority = {r.label for r in reports.build(span("2026-03-01", "2026-03-03", "priority")).rows}
    assert by_priority == {"High", "Medium"}


def test_per_tag_a_ticket_counts_under_each_of_its_tags(app_ctx, tagged):
    rows = reports.build(span("2026-03-01", "2026-03-03", "tag")).rows
    assert [r.label for r in rows] == ["No tag", "Refund", "VIP"]
    none, refund, vip = rows
    # Refund: T1 and T2, both opened and resolved in the range (T6 comes after it).
    assert (refund.created, refund.resolved, refund.backlog) == (2, 2, 0)
    assert refund.first_response == figures.Timing(2, approx(44100),
                                                   approx(1800 + 0.9 * 84600), 2, 1)
    assert refund.resolution == figures.Timing(2, approx(50400), approx(7200 + 0.9 * 86400), 2, 1)
    assert (refund.csat.count, refund.csat.average, refund.csat.satisfied) == (2, 4.0, 1)
    # VIP: T1 (also under Refund) and T5, opened in February, resolved on the 3rd.
    assert (vip.created, vip.resolved, vip.backlog) == (1, 2, 0)
    assert vip.first_response == figures.Timing(1, approx(1800), approx(1800), 1, 1)
    assert vip.resolution == figures.Timing(2, approx(133200), approx(7200 + 0.9 * 252000), 1, 0)
    assert (vip.csat.count, vip.csat.average, vip.csat.satisfied) == (2, 4.5, 2)
    # No tag: T3 (opened the 2nd, answered in 600 s, open) and T4 (open since February).
    assert (none.created, none.resolved, none.backlog) == (1, 0, 2)
    assert none.first_response == figures.Timing(1, approx(600), approx(600), 0, 0)
    assert none.resolution is None and none.csat is None
    assert none.first_response.sla_share is None


def test_a_tag_without_tickets_in_the_range_has_no_row(app_ctx, tagged):
    rows = reports.build(span("2026-03-04", "2026-03-04", "tag")).rows
    # T6 (Refund) opened and answered on the 4th; T3 and T4 are still open (No tag).
    assert [(r.label, r.created, r.backlog) for r in rows] == [("No tag", 0, 2),
                                                              ("Refund", 1, 1)]


def test_an_empty_range_is_no_data_not_an_error(app, factory, desk):
    with app.test_request_context():
        report = reports.build(span("2025-01-01", "2025-01-05"))
        assert report.empty and len(report.rows) == 5
        assert all((r.created, r.resolved, r.backlog) == (0, 0, 0) for r in report.rows)
        assert reports.build(span("2025-01-01", "2025-01-05", "agent")).rows == []
    client = _signed_in(app, factory, roles.STORE_MANAGER)
    page = client.get("/reports/?start=2025-01-01&end=2025-01-05&group=agent")
    assert page.status_code == 200 and b'id="report-empty"' in page.data
    assert b"No data for this range." in page.data and b"chart-report" not in page.data


def test_days_start_at_the_desks_local_midnight(app_ctx, factory):
    db.session.add(SlaCalendar(name="Tokyo", time_zone="Asia/Tokyo", is_default=True,
                               hours=HOURS, holidays=[]))
    db.session.commit()
    customer = factory.customer()
    _ticket(factory, customer, "2026-03-01 14:59")  # 23:59 on the 1st in Tokyo
    _ticket(factory, customer, "2026-03-01 15:00")  # 00:00 on the 2nd in Tokyo
    _ticket(factory, customer, "2026-02-28 15:30")  # 00:30 on the 1st in Tokyo
    rows = reports.build(span("2026-03-01", "2026-03-02")).rows
    assert [(r.label, r.created) for r in rows] == [("2026-03-01", 2), ("2026-03-02", 1)]
    assert rows[0].backlog == 2 and rows[1].backlog == 3


def test_a_daylight_saving_day_has_its_own_length(app_ctx, factory):
    db.session.add(SlaCalendar(name="Paris", time_zone="Europe/Paris", is_default=True,
                               hours=HOURS, holidays=[]))
    db.session.commit()
    s = span("2026-03-29", "2026-03-30")  # clocks go forward on the 29th: a 23-hour day
    day = s.buckets()[0]
    assert (day.start, day.stop) == (at("2026-03-28 23:00"), at("2026-03-29 22:00"))
    customer = factory.customer()
    _ticket(factory, customer, "2026-03-29 21:59")  # 23:59 CEST on the 29th
    _ticket(factory, customer, "2026-03-29 22:00")  # midnight: the 30th
    assert [r.created for r in reports.build(s).rows] == [1, 1]


def test_weeks_and_months_are_clipped_to_the_range(app_ctx):
    weeks = span("2026-03-04", "2026-03-17", "week").buckets()  # a Wednesday to a Tuesday
    assert [(b.first.isoformat(), b.last.isoformat()) for b in weeks] == [
        ("2026-03-04", "2026-03-08"), ("2026-03-09", "2026-03-15"), ("2026-03-16", "2026-03-17")]
    months = span("2026-01-15", "2026-03-03", "month").buckets()
    assert [b.label("month") for b in months] == ["2026-01", "2026-02", "2026-03"]
    assert months[1].first == dt.date(2026, 2, 1) and months[1].last == dt.date(2026, 2, 28)


def test_per_week_adds_up_to_the_days(app_ctx, desk):
    (week,) = reports.build(span("2026-03-01", "2026-03-01", "week")).rows
    (day,) = reports.build(span("2026-03-01", "2026-03-01", "day")).rows
    assert (week.created, week.resolved, week.backlog) == (day.created, day.resolved, day.backlog)
    (month,) = reports.build(span("2026-03-01", "2026-03-03", "month")).rows
    assert (month.created, month.resolved, month.backlog) == (3, 3, 2)


@pytest.mark.parametrize("args", [
    {"start": "2026-03-05", "end": "2026-03-01"}, {"start": "yesterday"},
    {"group": "tags"}, {"start": "2020-01-01", "end": "2026-01-01"},
    {"start": "2026-13-01"}, {"end": "０２０２６-01-01"},
])
def test_bad_ranges_are_refused(app_ctx, args):
    with pytest.raises(RangeError):
        parse_span(args)


def _signed_in(app, factory, role):
    person = factory.agent() if role == roles.SUPPORT_AGENT else (
        factory.customer() if role == roles.CUSTOMER else factory.staff(role))
    client = desk_client(app)
    login(client, person.user.email)
    return client


@pytest.mark.parametrize("query", ["start=2026-03-05&end=2026-03-01", "group=nope",
                                   "start=%00", "end=2026-02-30"])
def test_the_screen_and_csv_refuse_bad_ranges_with_400(app, factory, query):
    client = _signed_in(app, factory, roles.ADMIN)
    page = client.get(f"/reports/?{query}")
    assert page.status_code == 400 and b'id="report-error"' in page.data
    assert client.get(f"/reports/export.csv?{query}").status_code == 400


def test_the_screen_words_figures_for_people(app, factory, desk):
    client = _signed_in(app, factory, roles.STORE_MANAGER)
    html = client.get("/reports/?start=2026-03-01&end=2026-03-03&group=day").get_data(as_text=True)
    assert 'id="report-table"' in html and 'id="chart-report"' in html
    assert "30 min" in html and "12 h 05 min" in html and "3 d 0 h" in html
    assert "100%" in html and "5.00" in html
    assert "None" not in html.split('id="report-table"')[1]


def test_the_report_csv_has_the_tables_figures(app, factory, desk):
    client = _signed_in(app, factory, roles.ADMIN)
    response = client.get("/reports/export.csv?start=2026-03-01&end=2026-03-03&group=day")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Day", "Created", "Resolved", "Backlog"]
    assert rows[0][4] == "Median first response (minutes)"
    assert rows[1][:6] == ["2026-03-01", "2", "1", "3", "30.0", "30.0"]
    assert rows[2][4] == "725.0"  # 43500 s
    assert rows[1][8:] == ["5.0", "100.0", "1", "100.0", "0.0"]
    assert rows[3][9] == "100.0" and rows[3][11] == ""  # no first response that day: empty


def test_the_report_csv_per_tag(app, factory, tagged):
    client = _signed_in(app, factory, roles.ADMIN)
    response = client.get("/reports/export.csv?start=2026-03-01&end=2026-03-03&group=tag")
    assert response.status_code == 200
    assert "report-tag-2026-03-01-2026-03-03.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["Ticket tag", "Created", "Resolved", "Backlog"]
    assert rows[1:] == [
        ["No tag", "1", "0", "2", "10.0", "10.0", "", "", "", "", "0", "", ""],
        ["Refund", "2", "2", "0", "735.0", "1299.0", "840.0", "1416.0", "4.0", "50.0", "2",
         "50.0", "50.0"],
        ["VIP", "1", "2", "0", "30.0", "30.0", "2220.0", "3900.0", "4.5", "100.0", "2",
         "100.0", "0.0"],
    ]
    page = client.get("/reports/?start=2026-03-01&end=2026-03-03&group=tag")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "No tag" in html and "VIP" in html
    spanish = client.get("/reports/export.csv?start=2026-03-01&end=2026-03-03&group=tag",
                         headers={"Accept-Language": "es"}).get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(spanish)))
    assert rows[0][0] == "Etiqueta" and [r[0] for r in rows[1:]] == ["Refund", "Sin etiqueta",
                                                                    "VIP"]


def test_reports_are_for_admins_and_managers_only(app, factory, desk):
    for role, code in ((roles.ADMIN, 200), (roles.STORE_MANAGER, 200), (roles.FULFILLMENT, 403),
                       (roles.SUPPORT_AGENT, 403), (roles.CUSTOMER, 403)):
        client = _signed_in(app, factory, role)
        for url in ("/reports/", "/reports/export.csv?start=2026-03-01&end=2026-03-03"):
            response = client.get(url)
            body = response.get_data()
            assert response.status_code == code, (role, url)
            if code == 403:
                assert b"2026-03-01" not in body
