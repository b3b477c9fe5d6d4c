"""What the browser sweep presses and how it checks each press in the database.

Screens come from the rendered menu and the lists' own links; actions come from FAB's
registry (`appbuilder.baseviews`, each view's `actions`). Every action the registry
holds needs an entry in EFFECTS: a new action without one fails the sweep, so no
button ships unpressed.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select, update

from support_app.extensions import db
from support_app.models import (
    AgentProfile, Customer, Order, Ticket, WebhookDelivery, WebhookEndpoint)
from support_app.security import roles
from support_app.tickets import service, verification
from support_app.webhooks import endpoints
from tests.factories import Factory, Person

_SEQ = itertools.count(1)


@dataclass
class Desk:
    """The signed-in person and the data every screen of the sweep shows."""

    factory: Factory
    person: Person
    role: str
    customer: Person

    def ticket(self, mine: bool = True, status: str | None = None) -> int:
        """A fresh ticket the person may work: theirs (agents work only their own and
        the pool), else the pool; optionally moved to `status` by an admin."""
        ticket = self.factory.ticket(self.customer, subject=f"Sweep ticket {self.seq()}")
        if mine and self.role == roles.SUPPORT_AGENT:
            service.assign_self(self.person.actor, ticket.id)
        if status:
            service.update_ticket(self.admin.actor, ticket.id, status=status)
        return ticket.id

    def seq(self) -> int:
        return next(_SEQ)

    @property
    def admin(self) -> Person:
        if not hasattr(self, "_admin"):
            self._admin = self.factory.staff(roles.ADMIN)
        return self._admin


@dataclass
class Effect:
    """`prepare` makes a row the action applies to and returns its pk; `follow` finishes
    an action that opens a form (fills and submits it); `check` asserts the result."""

    prepare: Callable[[Desk], int]
    check: Callable[[Desk, int, object], None]
    follow: Callable[[object], None] | None = None


def _ticket(pk: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, pk)


def _submit_bulk(choose: Callable[[object], None]) -> Callable[[object], None]:
    def follow(page) -> None:
        page.wait_for_selector("form.desk-form")
        choose(page)
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.click("form.desk-form button[type=submit]")
    return follow


def _choose_on_hold(page) -> None:
    page.select_option("form.desk-form select[name=status]", "on_hold")


def _tag_vip(page) -> None:
    page.fill("form.desk-form input[name=add]", "vip, Sweep")


def _tagged(pk: int) -> bool:
    from support_app.tickets import tags
    db.session.expire_all()
    return tags.names_of(pk) == ["Sweep", "vip"]


def _choose_first_agent(page) -> None:
    values = page.eval_on_selector_all("form.desk-form select[name=agent] option",
                                       "options => options.map(o => o.value)")
    page.select_option("form.desk-form select[name=agent]", [v for v in values if v][0])


def _duplicate(desk: Desk) -> int:
    """A ticket with a twin of the same customer to merge into (both the person's)."""
    desk.ticket()
    return desk.ticket()


def _keep_first_suggestion(page) -> None:
    assert page.locator("form.desk-form input[name=into]:checked").count() == 1


def _agent(desk: Desk, approved: bool) -> int:
    person = desk.factory.agent(approved=approved)
    return db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == person.user.id))


def _approved(pk: int) -> bool:
    db.session.expire_all()
    return db.session.get(AgentProfile, pk).is_approved


def _unverified(desk: Desk) -> int:
    """A ticket held as from an unverified sender (as the contact form holds one)."""
    pk = desk.ticket()
    db.session.execute(update(Ticket).where(Ticket.id == pk).values(
        unverified_reason=verification.CONTACT_FORM))
    db.session.commit()
    return pk


def _endpoint(desk: Desk) -> int:
    """An active endpoint (unreachable: only its queued deliveries are looked at)."""
    endpoint = WebhookEndpoint(name=f"Sweep hook {desk.seq()}", url="https://hooks.invalid/in",
                               events=["ticket.created"])
    db.session.add(endpoint)
    db.session.commit()
    return endpoint.id


def _delivery(desk: Desk) -> int:
    endpoint = db.session.get(WebhookEndpoint, _endpoint(desk))
    delivery = endpoints.queue_ping(endpoint)
    db.session.commit()
    return delivery.id


def _deliveries(endpoint_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.endpoint_id == endpoint_id))


def _own_user(desk: Desk) -> int:
    return desk.person.user.id


def _on_form(fragment: str) -> Callable[[Desk, int, object], None]:
    def check(desk: Desk, pk: int, page) -> None:
        assert fragment in page.url.lower() and page.locator("form").count() >= 1, page.url
    return check


def _throwaway_role(desk: Desk) -> int:
    """A role to copy (the role tables outlive each test: `_copied` removes both)."""
    sm = desk.factory.app.appbuilder.sm
    return sm.add_role(f"Sweep role {desk.seq()}").id


def _copied(desk: Desk, pk: int, page) -> None:
    sm = desk.factory.app.appbuilder.sm
    db.session.expire_all()
    original = db.session.get(sm.role_model, pk)
    copy = sm.find_role(f"{original.name} copy")
    assert copy is not None
    for role in (copy, original):
        db.session.delete(role)
    db.session.commit()


EFFECTS: dict[tuple[str, str], Effect] = {
    ("TicketView", "assign_to_me"): Effect(
        lambda d: d.ticket(mine=False),
        lambda d, pk, page: _check(_ticket(pk).assigned_to_id == d.person.user.id)),
    ("TicketView", "change_status"): Effect(
        lambda d: d.ticket(), lambda d, pk, page: _check(_ticket(pk).status == "on_hold"),
        _submit_bulk(_choose_on_hold)),
    ("TicketView", "reassign"): Effect(
        lambda d: d.ticket(mine=False),
        lambda d, pk, page: _check(_ticket(pk).assigned_to_id is not None),
        _submit_bulk(_choose_first_agent)),
    ("TicketView", "tag"): Effect(
        lambda d: d.ticket(), lambda d, pk, page: _check(_tagged(pk)), _submit_bulk(_tag_vip)),
    ("TicketView", "escalate"): Effect(
        lambda d: d.ticket(), lambda d, pk, page: _check(_ticket(pk).escalation_level >= 1)),
    ("TicketView", "verify_sender"): Effect(
        _unverified, lambda d, pk, page: _check(_ticket(pk).unverified_reason is None)),
    ("TicketView", "merge_into"): Effect(
        _duplicate, lambda d, pk, page: _check(_ticket(pk).merged_into_id is not None),
        _submit_bulk(_keep_first_suggestion)),
    ("TicketView", "resolve"): Effect(
        lambda d: d.ticket(status="in_progress"),
        lambda d, pk, page: _check(_ticket(pk).status == "resolved")),
    ("TicketView", "close"): Effect(
        lambda d: d.ticket(status="resolved"),
        lambda d, pk, page: _check(_ticket(pk).status == "closed")),
    ("AgentView", "approve"): Effect(lambda d: _agent(d, False),
                                     lambda d, pk, page: _check(_approved(pk))),
    ("AgentView", "revoke"): Effect(lambda d: _agent(d, True),
                                    lambda d, pk, page: _check(not _approved(pk))),
    ("OrderView", "cancel"): Effect(
        lambda d: d.factory.order(d.customer.customer).id,
        lambda d, pk, page: _check(_order_status(pk) == "cancelled")),
    ("CustomerView", "surveys_off"): Effect(
        lambda d: _survey_customer(d, False), lambda d, pk, page: _check(_opted_out(pk))),
    ("CustomerView", "surveys_on"): Effect(
        lambda d: _survey_customer(d, True), lambda d, pk, page: _check(not _opted_out(pk))),
    # FAB's own account actions open the profile and password forms.
    ("WebhookEndpointView", "send_test"): Effect(
        _endpoint, lambda d, pk, page: _check(_deliveries(pk) >= 1)),
    ("WebhookDeliveryView", "resend"): Effect(
        _delivery, lambda d, pk, page: _check(
            _deliveries(db.session.get(WebhookDelivery, pk).endpoint_id) >= 2)),
    ("UserDBModelView", "userinfoedit"): Effect(_own_user, _on_form("userinfoedit")),
    ("UserDBModelView", "resetmypassword"): Effect(_own_user, _on_form("resetmypassword")),
    ("RoleModelView", "copyrole"): Effect(_throwaway_role, _copied),
    ("UserDBModelView", "resetpasswords"): Effect(_own_user, _on_form("resetpassword/form")),
}


def _survey_customer(desk: Desk, opted_out: bool) -> int:
    customer = desk.factory.customer().customer
    db.session.execute(update(Customer).where(Customer.id == customer.id)
                       .values(survey_opt_out=opted_out))
    db.session.commit()
    return customer.id


def _opted_out(pk: int) -> bool:
    db.session.expire_all()
    return db.session.get(Customer, pk).survey_opt_out


# Download buttons (`a.desk-export`: the ticket list's and the report's CSV) on every
# visited screen: each is clicked and what it downloads must be a CSV with a BOM.
EXPORT_LINKS = "a.desk-export"


def check_export(data: bytes, filename: str) -> None:
    assert filename.endswith(".csv"), filename
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    assert b"\r\n" in data  # at least the header line


def _report_by_week(page) -> None:
    page.select_option("#report-group", "week")


def _report_shown(desk: Desk, pk: int, page) -> None:
    assert "group=week" in page.url, page.url
    assert page.locator("#report-table, #report-empty").count() == 1


# Screen forms that are not FAB actions: the screen's path -> (what to fill, the
# button to press, the check after it).
FORMS: dict[str, tuple[Callable[[object], None], str, Callable[[Desk, int, object], None]]] = {
    "/reports/": (_report_by_week, "#report-show", _report_shown),
}


def _order_status(pk: int) -> str:
    db.session.expire_all()
    return db.session.get(Order, pk).status


def _check(condition: bool) -> None:
    assert condition
