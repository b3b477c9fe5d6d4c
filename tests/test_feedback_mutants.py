"""Satisfaction feedback, the edges the main tests leave open (found by mutation testing,
`tickets/feedback.py`): the origin a rating's event carries, the ticket and customer
rows locked before a rating or an opt-out is written, a survey link that reaches the
ticket without owning it, a survey comment that names another ticket's rating, and the
send time an opt-out clears from the survey it cancels.

As in test_survey_feedback.py, tickets are opened by a customer, worked by an approved
agent and resolved through the service; a held-back survey is queued only with the SMTP
server fixture running.
"""
from __future__ import annotations


import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import EmailLog, Feedback, TicketEvent
from support_app.security import roles
from support_app.tickets import events, feedback, service
from support_app.tickets.errors import NotFound

from .lock_reads import reads_of


@pytest.fixture
def desk(factory):
    """An approved agent who works and resolves customers' tickets."""
    class Desk:
        agent = factory.agent(name="Agent Smith")

        def resolved(self, person, **fields) -> int:
            ticket_id = factory.ticket(person, **fields).id
            service.assign_self(self.agent.actor, ticket_id)
            service.update_ticket(self.agent.actor, ticket_id, status="resolved")
            return ticket_id
    return Desk()


def _comments() -> dict[int, str | None]:
    db.session.expire_all()
    return dict(db.session.execute(select(Feedback.ticket_id, Feedback.comment)).all())


# --------------------------------------------------------------------------- submit


def test_a_ratings_event_carries_its_origin_api_unless_told(factory, desk, recorded_events):
    """Webhooks and sockets tell where a rating came from: `api` when the caller names
    no origin, the caller's own origin otherwise."""
    customer = factory.customer()
    first, second = desk.resolved(customer), desk.resolved(customer)
    recorded_events.clear()
    feedback.submit(customer.actor, first, 5)
    feedback.submit(customer.actor, second, 3, origin="admin")
    seen = [(e.ticket.id, e.origin, e.data["rating"]) for e in recorded_events if e.name == events.FEEDBACK]
    assert seen == [(first, "api", 5), (second, "admin", 3)]


def test_a_rating_locks_the_ticket_row_first(factory, desk):
    """Two ratings of one ticket at once take turns on its row (FOR UPDATE on
    PostgreSQL, the writer turn on SQLite): the second sees the first and is refused
    with the 409, instead of both passing the once-only check and the second failing
    on the unique index."""
    customer = factory.customer()
    ticket_id = desk.resolved(customer)
    with reads_of("tickets") as reads:
        feedback.submit(customer.actor, ticket_id, 4)
    assert reads and reads[0] is True


# --------------------------------------------------------------------------- survey links


def test_a_survey_rating_locks_the_ticket_row_first(factory, desk):
    """The signed link's rating takes the same turn on the ticket row as the API's."""
    customer = factory.customer()
    ticket_id, customer_id = desk.resolved(customer), customer.customer.id
    with reads_of("tickets") as reads:
        feedback.rate_from_survey(ticket_id, customer_id, 4)
    assert reads and reads[0] is True


def test_a_link_naming_a_participant_not_the_owner_finds_no_ticket(factory, desk):
    """A group member may see the ticket but does not own it (the ticket changed hands
    since the link, or the link names the wrong customer): the survey answers the
    ticket's plain 404 and records nothing."""
    owner, member = factory.customer(), factory.customer()
    ticket_id = desk.resolved(owner, participant_customer_ids=[member.customer.id])
    with pytest.raises(NotFound) as missing:
        feedback.rate_from_survey(ticket_id, member.customer.id, 5)
    assert (missing.value.resource, missing.value.message) == ("ticket", "Ticket not found")
    db.session.rollback()
    assert db.session.scalar(select(Feedback.id)) is None


# --------------------------------------------------------------------------- comment_from_survey


def test_a_survey_comment_goes_only_onto_the_linked_tickets_rating(factory, desk):
    """A follow-up names its ticket and its rating: a rating of another ticket (even
    the same customer's) is not found, and neither rating takes the comment."""
    customer = factory.customer()
    mine, other = desk.resolved(customer), desk.resolved(customer)
    feedback.rate_from_survey(mine, customer.customer.id, 5)
    theirs = feedback.rate_from_survey(other, customer.customer.id, 2)
    with pytest.raises(NotFound) as missing:
        feedback.comment_from_survey(theirs.id, mine, customer.customer.id, "Lovely")
    assert missing.value.resource == "ticket"
    assert _comments() == {mine: None, other: None}
    kinds = db.session.scalars(select(TicketEvent.kind).where(
        TicketEvent.kind == "feedback_comment")).all()
    assert kinds == []


# --------------------------------------------------------------------------- set_survey_opt_out


def test_an_opt_out_locks_the_customer_row_first(factory):
    """Two changes of one customer's preference take turns on the row: without the
    lock, an opt-in read before a concurrent opt-out committed sees no change to write
    and leaves the customer opted out."""
    customer = factory.customer()
    customer_id, admin = customer.customer.id, factory.staff(roles.ADMIN)
    for actor, value in ((customer.actor, True), (admin.actor, False)):
        with reads_of("customers") as reads:
            feedback.set_survey_opt_out(actor, customer_id, value)
        assert reads and reads[0] is True, value


# --------------------------------------------------------------------------- _cancel


def test_an_opt_out_clears_the_send_time_of_the_survey_it_cancels(factory, desk, smtp):
    """A cancelled survey has nothing left to send: no next attempt is kept on it."""
    customer = factory.customer()
    ticket_id = desk.resolved(customer)
    feedback.set_survey_opt_out(customer.actor, customer.customer.id, True)
    db.session.expire_all()
    rows = db.session.execute(select(EmailLog.status, EmailLog.next_attempt_at).where(
        EmailLog.ticket_id == ticket_id, EmailLog.template == feedback.SURVEY_TEMPLATE)).all()
    assert [tuple(row) for row in rows] == [("cancelled", None)]
