"""Customer satisfaction: the ticket's one feedback record and the survey's rules.

The 003 feedback endpoint (`submit`) and the emailed survey (`rate_from_survey`) write
the same record through `_record`: once per ticket, only on a resolved or closed ticket
(`lifecycle.feedback_refusal`), with its audit line and the `ticket.feedback` event
(the assigned agent's notification, webhooks, sockets).

The survey email (`notify.survey`) is one outbox row per ticket, written in the resolve's
transaction and held back by its `next_attempt_at` (`CSAT_DELAY_SECONDS`). `survey_wanted`
says whether a resolve calls for one; `cancel_pending` marks a held-back row
`cancelled` when the ticket reopens or the customer opts out.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Update, bindparam, exists, select, update

from .. import database
from ..extensions import db
from ..models import Customer, EmailLog, Feedback, Ticket
from ..security import roles
from . import events, lifecycle, policy
from .actor import Actor
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .queries import survivor_id
from .service import MAX_BODY, _audit, _publish, _transaction, get_ticket

SURVEY_TEMPLATE = "csat_survey"
# A survey row in one of these states has gone (or is going) out: never another one.
SURVEY_LIVE = ("queued", "sending", "sent")
CANCELLED = "cancelled"


def _check(rating: object, comment: str | None) -> None:
    if not lifecycle.valid_rating(rating):
        raise ValidationFailed({"rating": [_("Rating must be an integer from 1 to 5.")]})
    _check_comment(comment)


def _check_comment(comment: str | None) -> None:
    if comment is not None and len(comment) > MAX_BODY:
        raise ValidationFailed({"comment": [_("The comment is too long.")]})
    if comment is not None and "\x00" in comment:
        raise ValidationFailed({"comment": [
            _("The %(field)s may not contain NUL characters.", field="comment")]})


def _record(actor: Actor, ticket: Ticket, rating: int, comment: str | None,
            origin: str) -> Feedback:
    has_feedback = db.session.scalar(
        select(Feedback.id).where(Feedback.ticket_id == ticket.id)) is not None
    refusal = lifecycle.feedback_refusal(ticket.status, has_feedback)
    if refusal == "not_resolved":
        raise Conflict(_("Feedback can only be given once the ticket is resolved"))
    if refusal:
        raise Conflict(_("Feedback has already been submitted for this ticket"))
    feedback = Feedback(ticket_id=ticket.id, customer_id=ticket.customer_id,
                        rating=rating, comment=comment)
    db.session.add(feedback)
    cancel_pending(ticket_id=ticket.id)  # answered already: no survey for it
    _audit(ticket, actor, "feedback", None, rating)
    _publish(events.FEEDBACK, ticket, actor, origin, rating=rating)
    return feedback


def submit(actor: Actor, ticket_id: int, rating: int, comment: str | None = None,
           *, origin: str = "api") -> Feedback:
    """The ticket's customer rates it (003's POST .../feedback)."""
    _check(rating, comment)
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        if not policy.is_owner(actor, ticket):
            raise Forbidden(_("Only the ticket's customer can leave feedback"))
        feedback = _record(actor, ticket, rating, comment, origin)
    return feedback


def check_survey_open(ticket_id: int) -> None:
    """Conflict unless the ticket can take its feedback now (what a survey page says
    before the customer confirms): the same rule `_record` applies, to the same ticket
    (a merged ticket's link rates the ticket it was merged into)."""
    ticket_id = survivor_id(ticket_id)
    status = db.session.scalar(select(Ticket.status).where(Ticket.id == ticket_id))
    has_feedback = db.session.scalar(
        select(Feedback.id).where(Feedback.ticket_id == ticket_id)) is not None
    refusal = lifecycle.feedback_refusal(status or "", has_feedback)
    db.session.rollback()  # a read: no transaction left open
    if refusal == "not_resolved":
        raise Conflict(_("Feedback can only be given once the ticket is resolved"))
    if refusal:
        raise Conflict(_("Thank you: the rating for this ticket is already recorded."))


def _survey_actor(customer: Customer) -> Actor:
    """The customer, acting on the authority of a signed survey link (no sign-in)."""
    return Actor(user_id=customer.user_id, customer_id=customer.id, name=customer.name,
                 locale=customer.locale or "en")


def _linked_ticket(ticket_id: int, customer_id: int) -> tuple[Ticket, Actor]:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("ticket")
    actor = _survey_actor(customer)
    ticket = get_ticket(actor, ticket_id, lock=True)
    if not policy.is_owner(actor, ticket):  # the ticket changed hands since the link
        raise NotFound("ticket")
    return ticket, actor


def rate_from_survey(ticket_id: int, customer_id: int, rating: int) -> Feedback:
    """A signed survey link's rating (`security.survey_links` checked it)."""
    _check(rating, None)
    with _transaction() as keep:
        ticket, actor = _linked_ticket(ticket_id, customer_id)
        feedback = _record(actor, ticket, rating, None, "survey")
        db.session.flush()
        keep.append(feedback)
    return feedback


def comment_from_survey(feedback_id: int, ticket_id: int, customer_id: int,
                        comment: str) -> Feedback:
    """The one comment the survey page adds to the rating it recorded."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed({"comment": [_("The %(field)s field is required.",
                                              field="comment")]})
    _check_comment(comment)
    with _transaction() as keep:
        ticket, actor = _linked_ticket(ticket_id, customer_id)
        feedback = db.session.scalar(select(Feedback).where(
            Feedback.id == feedback_id, Feedback.ticket_id == ticket.id).with_for_update())
        if feedback is None:
            raise NotFound("ticket")
        if feedback.comment:
            raise Conflict(_("A comment was already added to this rating."))
        feedback.comment = comment
        _audit(ticket, actor, "feedback_comment")
        keep.append(feedback)
    return feedback


def set_survey_opt_out(actor: Actor, customer_id: int, opted_out: bool) -> Customer:
    """The customer (their signed survey page, or signed in) or staff who manage tickets
    turn survey emails off or on; turning them off cancels any survey still held back."""
    if not (actor.customer_id == customer_id or actor.can(roles.MANAGE)):
        raise Forbidden(_("You may not change this customer's survey preference"))
    with _transaction() as keep:
        customer = db.session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise NotFound("customer")
        customer.survey_opt_out = opted_out
        if opted_out:
            cancel_pending(customer_id=customer_id)
        keep.append(customer)
    return customer


def survey_wanted(ticket_id: int, customer_id: int) -> bool:
    """A resolve calls for a survey unless the customer opted out, the ticket has its
    feedback already, or a survey for it is queued or went out (never twice)."""
    opted_out = db.session.scalar(
        select(Customer.survey_opt_out).where(Customer.id == customer_id))
    if opted_out is None or opted_out:
        return False
    answered = exists().where(Feedback.ticket_id == ticket_id)
    surveyed = exists().where(EmailLog.ticket_id == ticket_id,
                              EmailLog.template == SURVEY_TEMPLATE,
                              EmailLog.status.in_(SURVEY_LIVE))
    return not db.session.scalar(select(answered | surveyed))


def cancel_pending(*, ticket_id: int | None = None, customer_id: int | None = None) -> int:
    """Held-back survey rows of a ticket (reopened) or of a customer (opted out) are
    cancelled; one already being sent is not taken back. Returns how many."""
    outbox = EmailLog.__table__.c
    if customer_id is None and ticket_id is not None:
        statement, params = _cancel_for_ticket(), {"reopened_id": ticket_id}
    else:
        where = [outbox.template == SURVEY_TEMPLATE, outbox.status == "queued"]
        if ticket_id is not None:
            where.append(outbox.ticket_id == ticket_id)
        if customer_id is not None:
            where.append(outbox.ticket_id.in_(
                select(Ticket.id).where(Ticket.customer_id == customer_id)))
        statement, params = _cancel(where), {}
    # Core on the session's connection: survey rows are written with Core too, so the
    # ORM's autoflush has nothing of theirs to write first.
    return database.execute_core(statement, params).rowcount


def _cancel(where: list[Any]) -> Update:
    return update(EmailLog.__table__).where(*where).values(status=CANCELLED,
                                                           next_attempt_at=None)


@lru_cache(maxsize=1)
def _cancel_for_ticket() -> Update:
    """Built once: every reply that reopens a ticket runs it (built each time, it and
    the ORM's bulk UPDATE were 8% of such a reply, measured in-process)."""
    outbox = EmailLog.__table__.c
    return _cancel([outbox.template == SURVEY_TEMPLATE, outbox.status == "queued",
                    outbox.ticket_id == bindparam("reopened_id")])
