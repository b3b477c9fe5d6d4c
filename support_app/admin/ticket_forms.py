"""Forms of the ticket screens. Each one feeds exactly one service call; none of
them edits ticket columns directly. Flask-WTF adds and checks the CSRF token."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..extensions import db
from ..i18n import PRIORITY_LABELS, STATUS_LABELS
from ..models import AgentProfile, Customer, SupportUser
from ..tickets.service import MAX_BODY, MAX_SUBJECT

from .labels import CATEGORY_LABELS, choices

UNASSIGNED = ""


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply to the customer"),
                         validators=[DataRequired(), Length(max=MAX_BODY)])
    files = MultipleFileField(_l("Attach files"))


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Internal note (staff only)"),
                         validators=[DataRequired(), Length(max=MAX_BODY)])
    files = MultipleFileField(_l("Attach files (staff only)"))


class MergeForm(FlaskForm):
    """Where to merge a ticket: one of the suggested tickets (`tickets.merge.suggestions`)."""

    into = RadioField(_l("Merge into"), coerce=int, validators=[DataRequired()])


class StatusForm(FlaskForm):
    """Status and/or priority of one or several tickets (their ids travel as `ids`)."""

    status = SelectField(_l("Status"), choices=[("", "—"), *choices(STATUS_LABELS)],
                         validators=[Optional()])
    priority = SelectField(_l("Priority"),
                           choices=[("", "—"), *choices(PRIORITY_LABELS)],
                           validators=[Optional()])
    resolution_details = TextAreaField(_l("Resolution details"),
                                       validators=[Optional(), Length(max=MAX_BODY)])


class ReassignForm(FlaskForm):
    agent = SelectField(_l("Assign to"), validators=[Optional()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        agents = db.session.execute(
            select(SupportUser.id, SupportUser.first_name, SupportUser.last_name)
            .join(AgentProfile, AgentProfile.user_id == SupportUser.id)
            .where(AgentProfile.is_approved.is_(True), SupportUser.active.is_(True))
            .order_by(SupportUser.first_name, SupportUser.last_name)
        ).all()
        self.agent.choices = [(UNASSIGNED, str(_l("Unassigned pool")))] + [
            (str(uid), f"{first} {last}".strip()) for uid, first, last in agents
        ]


class OpenTicketForm(FlaskForm):
    """A ticket opened by staff on a customer's behalf (channel `admin`)."""

    customer = SelectField(_l("Customer"), validators=[DataRequired()])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=MAX_SUBJECT)])
    description = TextAreaField(_l("Description"),
                                validators=[DataRequired(), Length(max=MAX_BODY)])
    priority = SelectField(_l("Priority"), choices=choices(PRIORITY_LABELS),
                           default="medium")
    category = SelectField(_l("Category"), choices=choices(CATEGORY_LABELS),
                           default="other")
    files = MultipleFileField(_l("Attach files"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        customers = db.session.execute(
            select(Customer.id, Customer.name, Customer.email).order_by(Customer.name).limit(1000)
        ).all()
        # An <option> holds no <bdi>: Unicode's first-strong isolate keeps "Name <email>"
        # in one run, so an Arabic page shows its brackets in place.
        self.customer.choices = [(str(cid), f"\u2068{name} <{email}>\u2069")
                                 for cid, name, email in customers]


class TagsForm(FlaskForm):
    """Tags to add and/or remove, comma-separated (one ticket or a selection)."""

    add = StringField(_l("Add tags"), validators=[Optional(), Length(max=500)],
                      description=_l("Tag names separated by commas."))
    remove = StringField(_l("Remove tags"), validators=[Optional(), Length(max=500)])


class MacroForm(FlaskForm):
    """A macro applied on the ticket page: chosen, previewed, then sent as edited."""

    macro = SelectField(_l("Macro"), validators=[DataRequired()])
    body = TextAreaField(_l("Reply to the customer"), validators=[Optional(), Length(max=MAX_BODY)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from ..tickets.macros import active_macros
        self.macro.choices = [(str(m.id), m.name) for m in active_macros()]
