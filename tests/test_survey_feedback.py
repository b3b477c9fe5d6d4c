"""The feedback record's own rules (`tickets/feedback.py`), asserted on what is stored and
said: the rating and comment bounds on their fields, the two refusals in their words,
the audit line and the agent's notice, and the signed survey link acting as exactly
the ticket's customer (found by mutation testing, issue 28)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import EmailLog, Feedback, Notification, TicketEvent
from support_app.security import roles
from support_app.tickets import feedback, service
from support_app.tickets.errors import Conflict, Forbidden, NotFound, ValidationFailed
from support_app.tickets.service import MAX_BODY


@pytest.fixture
def resolved(factory):
    """A customer's ticket, worked by an agent and resolved."""
    customer, agent = factory.customer(), factory.agent(name="Agent Smith")
    ticket = factory.ticket(customer)
    service.assign_self(agent.actor, ticket.id)
    service.update_ticket(agent.actor, ticket.id, status="resolved")
    return customer, agent, ticket.id


def _ratings() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Feedback))


@pytest.mark.parametrize("rating", [0, 6, "5", True, None, 4.5])
def test_a_rating_outside_one_to_five_is_refused_on_its_field(resolved, rating):
    customer, _agent, ticket_id = resolved
    with pytest.raises(ValidationFailed) as refused:
        feedback.submit(customer.actor, ticket_id, rating)
    assert refused.value.errors == {"rating": ["Rating must be an integer from 1 to 5."]}
    assert _ratings() == 0


def test_a_comment_may_be_as_long_as_a_message_and_no_longer(resolved, factory):
    customer, _agent, ticket_id = resolved
    with pytest.raises(ValidationFailed) as long:
        feedback.submit(customer.actor, ticket_id, 4, "x" * (MAX_BODY + 1))
    assert long.value.errors == {"comment": ["The comment is too long."]}
    with pytest.raises(ValidationFailed) as nul:
        feedback.submit(customer.actor, ticket_id, 4, "fine\x00")
    assert nul.value.errors == {"comment": ["The comment may not contain NUL characters."]}
    assert _ratings() == 0
    assert feedback.submit(customer.actor, ticket_id, 4, "x" * MAX_BODY).comment == "x" * MAX_BODY


def test_feedback_waits_for_the_resolve_is_given_once_and_is_audited(factory):
    customer, agent = factory.customer(), factory.agent(name="Agent Smith")
    ticket_id = factory.ticket(customer).id
    service.assign_self(agent.actor, ticket_id)
    with pytest.raises(Conflict) as early:
        feedback.submit(customer.actor, ticket_id, 5)
    assert early.value.message == "Feedback can only be given once the ticket is resolved"
    service.update_ticket(agent.actor, ticket_id, status="resolved")
    recorded = feedback.submit(customer.actor, ticket_id, 4, "Quick")
    assert (recorded.rating, recorded.comment, recorded.customer_id) == (
        4, "Quick", customer.customer.id)
    with pytest.raises(Conflict) as twice:
        feedback.submit(customer.actor, ticket_id, 5)
    assert twice.value.message == "Feedback has already been submitted for this ticket"
    audit = db.session.execute(select(TicketEvent.actor_id, TicketEvent.new_value).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "feedback")).all()
    assert audit == [(customer.user.id, "4")]
    notices = db.session.scalars(select(Notification.user_id).where(
        Notification.ticket_id == ticket_id, Notification.kind == "feedback")).all()
    assert notices == [agent.user.id]


def test_a_survey_link_rates_and_comments_as_the_tickets_customer(resolved, factory):
    customer, _agent, ticket_id = resolved
    rated = feedback.rate_from_survey(ticket_id, customer.customer.id, 5)
    assert (rated.rating, rated.customer_id) == (5, customer.customer.id)
    with pytest.raises(ValidationFailed) as empty:
        feedback.comment_from_survey(rated.id, ticket_id, customer.customer.id, "  ")
    assert empty.value.errors == {"comment": ["The comment field is required."]}
    with pytest.raises(NotFound) as other_rating:
        feedback.comment_from_survey(rated.id + 1, ticket_id, customer.customer.id, "Hi")
    assert other_rating.value.resource == "ticket"
    commented = feedback.comment_from_survey(rated.id, ticket_id, customer.customer.id,
                                             " Fast and kind ")
    assert commented.comment == "Fast and kind"
    with pytest.raises(Conflict):
        feedback.comment_from_survey(rated.id, ticket_id, customer.customer.id, "Again")
    audit = db.session.execute(select(TicketEvent.kind, TicketEvent.actor_id, TicketEvent.actor_type)
                               .where(TicketEvent.ticket_id == ticket_id,
                                      TicketEvent.kind.like("feedback%"))
                               .order_by(TicketEvent.id)).all()
    assert audit == [("feedback", customer.user.id, "customer"),
                     ("feedback_comment", customer.user.id, "customer")]


def test_a_survey_link_speaks_for_its_customer_only(resolved, factory):
    """A link naming a customer that is gone finds no ticket; one naming another
    customer is refused by the ticket's policy; neither records anything."""
    _customer, _agent, ticket_id = resolved
    with pytest.raises(NotFound) as missing:
        feedback.rate_from_survey(ticket_id, 999_999, 5)
    assert missing.value.resource == "ticket"
    with pytest.raises(Forbidden):
        feedback.rate_from_survey(ticket_id, factory.customer().customer.id, 5)
    assert _ratings() == 0


def _survey_states(ticket_id: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(EmailLog.status).where(
        EmailLog.ticket_id == ticket_id, EmailLog.template == feedback.SURVEY_TEMPLATE)))


def test_opting_out_cancels_that_customers_held_back_surveys_only(factory, smtp):
    agent = factory.agent(name="Agent Smith")
    alice, bob = factory.customer(), factory.customer()
    tickets = {}
    for person in (alice, bob):
        ticket_id = factory.ticket(person).id
        service.assign_self(agent.actor, ticket_id)
        service.update_ticket(agent.actor, ticket_id, status="resolved")
        tickets[person.customer.id] = ticket_id
    assert [_survey_states(t) for t in tickets.values()] == [["queued"], ["queued"]]
    with pytest.raises(Forbidden) as other:
        feedback.set_survey_opt_out(bob.actor, alice.customer.id, True)
    assert other.value.message == "You may not change this customer's survey preference"
    feedback.set_survey_opt_out(alice.actor, alice.customer.id, True)
    assert _survey_states(tickets[alice.customer.id]) == ["cancelled"]
    assert _survey_states(tickets[bob.customer.id]) == ["queued"]
    with pytest.raises(NotFound) as missing:
        feedback.set_survey_opt_out(factory.staff(roles.ADMIN).actor, 999_999, True)
    assert missing.value.resource == "customer"


def test_feedback_through_the_api_cancels_the_survey_still_held_back(smtp, resolved, factory):
    """That ticket's survey only: another resolved ticket's stays queued."""
    customer, agent, ticket_id = resolved
    other = factory.ticket(factory.customer()).id
    service.assign_self(agent.actor, other)
    service.update_ticket(agent.actor, other, status="resolved")
    assert _survey_states(ticket_id) == _survey_states(other) == ["queued"]
    feedback.submit(customer.actor, ticket_id, 5)
    assert _survey_states(ticket_id) == ["cancelled"] and _survey_states(other) == ["queued"]
    row = db.session.scalar(select(EmailLog).where(EmailLog.ticket_id == ticket_id,
                                                   EmailLog.template == feedback.SURVEY_TEMPLATE))
    assert row.next_attempt_at is None  # cancelled: nothing left to send it


def test_the_refusals_say_why(resolved, factory):
    customer, agent, ticket_id = resolved
    with pytest.raises(Forbidden) as staff:
        feedback.submit(agent.actor, ticket_id, 5)
    assert staff.value.message == "Only the ticket's customer can leave feedback"
    feedback.check_survey_open(ticket_id)  # open: no refusal
    rated = feedback.rate_from_survey(ticket_id, customer.customer.id, 4)
    with pytest.raises(Conflict) as answered:
        feedback.check_survey_open(ticket_id)
    assert answered.value.message == "Thank you: the rating for this ticket is already recorded."
    feedback.comment_from_survey(rated.id, ticket_id, customer.customer.id, "Thanks")
    with pytest.raises(Conflict) as again:
        feedback.comment_from_survey(rated.id, ticket_id, customer.customer.id, "More")
    assert again.value.message == "A comment was already added to this rating."
    open_id = factory.ticket(customer).id
    with pytest.raises(Conflict) as early:
        feedback.check_survey_open(open_id)
    assert early.value.message == "Feedback can only be given once the ticket is resolved"
