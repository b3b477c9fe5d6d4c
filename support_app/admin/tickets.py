"""The desk's main screen: ticket list, ticket page, forms and actions.

Every change goes through `tickets.service` with the signed-in user's Actor; the
list, the ticket page and the related lists only ever hold tickets the policy lets
that user see (`VisibleToActor` base filter), so an agent's URL guess is a 404.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from flask import flash, redirect, request, url_for
from flask_appbuilder import action, expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterNotEqual,
    FilterRelationOneToManyEqual,
)
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import false, or_, select
from sqlalchemy.orm import selectinload

from ..attachments.screening import THUMBNAIL_TYPES
from ..extensions import db
from ..i18n import PRIORITY_LABELS, SLA_STATE_LABELS, STATUS_LABELS
from ..models import InternalNote, Message, SupportUser, Ticket, TicketEvent, utcnow
from ..reports import ticket_list
from ..reports.export import csv_response
from ..security import roles
from ..tickets import lifecycle, merge, policy, service, sla, verification
from ..tickets.actor import Actor
from ..tickets.queries import like_pattern
from . import permissions as perms
from .attachments import file_size, uploaded
from .base import DeskModelView, VisibleToActor, attempt, current_actor, isolated, timestamp
from .labels import ASSIGNMENT_EVENTS, CATEGORY_LABELS, CHANNEL_LABELS, history_value
from .desk_tools import tag_names
from .redirects import back
from .ticket_tools import TicketToolsMixin
from .ticket_forms import (
    UNASSIGNED,
    MergeForm,
    MacroForm,
    NoteForm,
    OpenTicketForm,
    ReassignForm,
    ReplyForm,
    StatusForm,
    TagsForm,
)

ORIGIN = "admin"
SLA_BADGES = {"running": "success", "at_risk": "warning", "breached": "danger"}


class TicketTextSearch(BaseFilter):
    """One search box over subject, description and number (LIKE, case-insensitive)."""

    name = _l("Subject, description or number contains")
    arg_name = "text"

    def apply(self, query, value):  # type: ignore[override]
        if not value:
            return query
        pattern = like_pattern(str(value).strip())
        return query.filter(or_(
            Ticket.number.ilike(pattern, escape="\\"),
            Ticket.subject.ilike(pattern, escape="\\"),
            Ticket.description.ilike(pattern, escape="\\"),
        ))


class TicketUnassigned(BaseFilter):
    """The unassigned pool (the value is ignored)."""

    name = _l("Is unassigned")
    arg_name = "unassigned"

    def apply(self, query, value):  # type: ignore[override]
        return query.filter(Ticket.assigned_to_id.is_(None))


def awaiting_approval(actor: Actor) -> bool:
    """An agent whose registration no admin has approved yet: they may work tickets by
    role but see none until approved (`tickets.policy`)."""
    return actor.can(roles.WORK) and not actor.can(roles.VIEW_ALL) and not actor.is_approved_agent


def _ids(values: Iterable[str]) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


class TicketView(TicketToolsMixin, DeskModelView):
    datamodel = SQLAInterface(Ticket)
    class_permission_name = perms.TICKETS
    route_base = "/tickets"
    list_title = _l("Tickets")
    show_title = _l("Ticket")
    show_template = "admin/ticket_show.html"
    list_template = "admin/ticket_list.html"
    base_permissions = [f"can_{name}" for name in (
        "list", "show", perms.REPLY, perms.NOTE, perms.WORK, perms.REASSIGN, perms.OPEN)]
    method_permission_name = {
        "assign_to_me": perms.WORK, "change_status": perms.WORK, "escalate": perms.WORK,
        "verify_sender": perms.WORK, "merge_into": perms.WORK, "merge_form": perms.WORK,
        "resolve": perms.WORK, "close": perms.WORK, "status": perms.WORK,
        "reassign": perms.REASSIGN, "reassign_form": perms.REASSIGN,
        "reply": perms.REPLY, "note": perms.NOTE, "new": perms.OPEN,
        "export": "list",  # the CSV of the list: whoever reads the list, rows as it shows
        "tag": perms.WORK, "tags": perms.WORK, "tag_form": perms.WORK, "macro": perms.REPLY,
    }
    base_filters = [["id", VisibleToActor, current_actor]]
    base_order = ("created_at", "desc")
    page_size = 25

    list_columns = ["number", "headline", "unverified_reason", "customer", "status",
                    "priority", "category", "channel", "assigned_to", "escalation_level",
                    "sla_summary", "is_admin_read", "created_at"]
    order_columns = ["number", "subject", "status", "priority", "category", "channel",
                     "escalation_level", "sla_due_at", "created_at", "updated_at"]
    search_columns = ["number", "tags", "status", "priority", "category", "channel",
                      "assigned_to", "escalation_level", "sla_state", "customer", "is_admin_read",
                      "created_at"]
    label_columns = {
        "number": _l("Number"), "subject": _l("Subject"), "headline": _l("Subject"),
        "customer": _l("Customer"),
        "status": _l("Status"), "priority": _l("Priority"), "category": _l("Category"),
        "channel": _l("Channel"), "assigned_to": _l("Assignee"),
        "escalation_level": _l("Escalation"), "is_admin_read": _l("Unread"),
        "unverified_reason": _l("Sender"), "tags": _l("Tags"), "sla_state": _l("SLA"),
        "sla_summary": _l("SLA"), "sla_due_at": _l("SLA due"),
        "created_at": _l("Created"), "updated_at": _l("Updated"),
    }

    formatters_columns = {
        "number": lambda number: Markup('<span class="label label-default">{}</span>').format(number),
        "subject": lambda subject: Markup('<span class="desk-subject" dir="auto">{}</span>').format(subject),
        "headline": lambda headline: Markup(
            '<span class="desk-subject" dir="auto">{}</span>').format(headline[0]) + (
            Markup(" ") + tag_names(headline[1]) if headline[1] else Markup("")),
        "customer": isolated,
        "assigned_to": lambda user: isolated(user.name) if user else Markup(
            '<span class="text-muted">{}</span>').format(_("Unassigned")),
        "unverified_reason": lambda reason: "" if reason is None else Markup(
            '<span class="label label-warning desk-unverified" title="{}">{}</span>').format(
            verification.label(reason), _("Unverified")),
        "is_admin_read": lambda read: "" if read else Markup(
            '<span class="label label-danger">{}</span>').format(_("unread")),
        "created_at": timestamp,
        "tags": tag_names,
        # The badge only (the list must fit 1366 px); the due time on hover, and the
        # SLA quick filters sort by it.
        "sla_summary": lambda summary: "" if summary[0] is None else Markup(
            '<span class="label label-{} desk-sla" title="{}">{}</span>').format(
            SLA_BADGES.get(summary[0], "default"),
            summary[1].strftime("%Y-%m-%d %H:%M") if summary[1] else "",
            SLA_STATE_LABELS.get(summary[0], summary[0])),
    }
    code_labels = {"status": STATUS_LABELS, "priority": PRIORITY_LABELS,
                   "category": CATEGORY_LABELS, "channel": CHANNEL_LABELS,
                   "sla_state": SLA_STATE_LABELS}

    def _init_properties(self) -> None:
        super()._init_properties()
        # The text search is the first filter offered for "number" (`_flt_0_number=...`),
        # "is unassigned" the last for the assignee. FAB renders the search form from
        # one registry and parses URLs with the other: both get the same entries.
        for registry in (self._filters.get_search_filters(), self._filters._all_filters):
            registry["number"].insert(0, TicketTextSearch("number", self.datamodel))
            registry["assigned_to"].append(TicketUnassigned("assigned_to", self.datamodel))

    # ------------------------------------------------------------------ screens

    def _filter_url(self, order: str | None = None, **filters: tuple[type, str]) -> str:
        """A list URL with FAB filters `_flt_<index>_<column>=value` (index looked up),
        optionally sorted ascending by `order`."""
        args = {}
        if order:
            args.update({f"_oc_{self.__class__.__name__}": order,
                         f"_od_{self.__class__.__name__}": "asc"})
        for column, (filter_class, value) in filters.items():
            offered = self._filters.get_search_filters()[column]
            index = next(i for i, f in enumerate(offered) if isinstance(f, filter_class))
            args[f"_flt_{index}_{column}"] = value
        return url_for(f"{self.endpoint}.list", **args)

    def quick_filters(self) -> list[tuple[str, str]]:
        actor = current_actor()
        return [
            (_("All"), url_for(f"{self.endpoint}.list")),
            (_("Mine"), self._filter_url(assigned_to=(FilterRelationOneToManyEqual, str(actor.user_id)))),
            (_("Unassigned"), self._filter_url(assigned_to=(TicketUnassigned, "1"))),
            (_("Unread"), self._filter_url(is_admin_read=(FilterNotEqual, "y"))),
            (_("Open"), self._filter_url(status=(FilterEqual, lifecycle.OPEN))),
            (_("In progress"), self._filter_url(status=(FilterEqual, lifecycle.IN_PROGRESS))),
            (_("Escalated"), self._filter_url(escalation_level=(FilterGreater, "0"))),
            (_("SLA at risk"), self._filter_url("sla_due_at", sla_state=(FilterEqual, "at_risk"))),
            (_("SLA breached"), self._filter_url("sla_due_at", sla_state=(FilterEqual, "breached"))),
        ]

    @expose("/list/")
    @has_access
    def list(self):
        if awaiting_approval(current_actor()):  # their list would say "No records found"
            return self.render_template("admin/pending_approval.html",
                                        title=_("Approval pending"))
        widgets = self._list()
        return self.render_template(
            self.list_template, title=self.list_title, widgets=widgets,
            quick_filters=self.quick_filters(), export_url=self.export_url(),
            may_open=self.appbuilder.sm.has_access(f"can_{perms.OPEN}", perms.TICKETS),
        )

    @expose("/export.csv")
    @has_access
    def export(self):
        """The list as CSV with the URL's filters and order, under the same base filter
        (an agent gets their tickets and the pool), streamed."""
        get_filter_args(self._filters)
        order_column, direction = get_order_args().get(self.__class__.__name__) \
            or self.base_order
        query = self._filters.get_joined_filters(self._base_filters).apply_all(
            db.session.query(Ticket))
        if awaiting_approval(current_actor()):
            query = query.filter(false())
        query = self.datamodel.apply_order_by(query, order_column, direction)
        return csv_response(f"tickets-{utcnow():%Y%m%d-%H%M}.csv", ticket_list.headings(),
                            ticket_list.rows(query))

    def export_url(self) -> str:
        """The download link for the list as filtered and ordered now."""
        return url_for(f"{self.endpoint}.export", **request.args.to_dict(flat=False))

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        widgets = self._show(pk)  # 404 unless the base filter lets this user see it
        actor = current_actor()
        ticket = db.session.get(Ticket, int(pk))
        if ticket.merged_into_id is not None:  # the ticket it was merged into answers
            flash(_("Ticket %(number)s was merged into this ticket.", number=ticket.number), "info")
            return redirect(url_for(f"{self.endpoint}.show", pk=ticket.merged_into_id))
        if not ticket.is_admin_read and policy.can_work(actor, ticket):
            attempt(service.mark_ticket_read, actor, ticket.id)
            ticket = db.session.get(Ticket, int(pk))
        notes_visible = policy.can_see_internal_notes(actor, ticket)
        reassign = ReassignForm(formdata=None)
        reassign.agent.data = str(ticket.assigned_to_id or UNASSIGNED)
        status = StatusForm(formdata=None)
        status.priority.data = ticket.priority
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets,
            ticket=ticket, unverified=verification.label(ticket.unverified_reason),
            messages=db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                                        .order_by(Message.created_at, Message.id)
                                        .options(selectinload(Message.files))).all(),
            notes=db.session.scalars(select(InternalNote).where(InternalNote.ticket_id == ticket.id)
                                     .order_by(InternalNote.created_at)
                                     .options(selectinload(InternalNote.files))).all()
            if notes_visible else None,
            file_size=file_size, previewable=THUMBNAIL_TYPES,
            history=self._history(ticket.id),
            can_work=policy.can_work(actor, ticket),
            sla_policy=sla.policy_of(ticket), sla_targets=sla.view(ticket, utcnow()),
            targets=lifecycle.allowed_targets(ticket.status, actor.lifecycle_role),
            reply_form=ReplyForm(formdata=None), note_form=NoteForm(formdata=None),
            tags_form=TagsForm(formdata=None), macro_form=MacroForm(formdata=None),
            status_form=status, reassign_form=reassign,
            may=lambda name: self.appbuilder.sm.has_access(f"can_{name}", perms.TICKETS),
            may_screen=lambda view: self.appbuilder.sm.has_access("can_show", view),
        )

    @staticmethod
    def _history(ticket_id: int) -> list[tuple[TicketEvent, str, str]]:
        """The audit trail with its values as people read them: (event, old, new)."""
        events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                    .order_by(TicketEvent.created_at, TicketEvent.id)).all()
        ids = {int(v) for e in events if e.kind in ASSIGNMENT_EVENTS
               for v in (e.old_value, e.new_value) if v and str(v).isdigit()}
        names = {str(user.id): user.name for user in db.session.scalars(
            select(SupportUser).where(SupportUser.id.in_(ids)))} if ids else {}
        return [(e, history_value(e.kind, e.old_value, names),
                 history_value(e.kind, e.new_value, names)) for e in events]

    def _back(self, pk: int | None = None):
        if pk is not None:
            return redirect(url_for(f"{self.endpoint}.show", pk=pk))
        return redirect(self.get_redirect())

    @expose("/reply/<int:pk>", methods=["POST"])
    @has_access
    def reply(self, pk: int):
        form = ReplyForm()
        if not form.validate_on_submit():
            flash(_("The reply was not sent: write a message (and reload the page if it expired)."),
                  "danger")
        elif (files := uploaded(form.files.data)) is not None and attempt(
                service.add_message, current_actor(), pk, form.body.data,
                attachments=files, channel=ORIGIN, origin=ORIGIN):
            flash(_("Reply sent to the customer."), "success")
        return self._back(pk)

    @expose("/note/<int:pk>", methods=["POST"])
    @has_access
    def note(self, pk: int):
        form = NoteForm()
        if not form.validate_on_submit():
            flash(_("The note was not saved: write a note (and reload the page if it expired)."),
                  "danger")
        elif (files := uploaded(form.files.data)) is not None and attempt(
                service.add_note, current_actor(), pk, form.note.data, attachments=files,
                origin=ORIGIN):
            flash(_("Internal note added."), "success")
        return self._back(pk)

    @expose("/status/", methods=["GET", "POST"])
    @has_access
    def status(self):
        """Change status and/or priority of the tickets named by `ids` (one or many)."""
        form = StatusForm()
        ids = _ids(request.values.getlist("ids"))
        if request.method == "POST" and form.validate_on_submit() and ids:
            if not (form.status.data or form.priority.data):
                flash(_("Choose a status or a priority."), "warning")
            else:
                self._apply(ids, service.update_ticket, status=form.status.data or None,
                            priority=form.priority.data or None,
                            resolution_details=form.resolution_details.data or None)
                return self._back(ids[0] if len(ids) == 1 else None)
        return self._bulk_page(ids, form, "status", _("Change status or priority"))

    @expose("/merge/", methods=["GET", "POST"])
    @has_access
    def merge_form(self):
        """Merge one ticket into another of its customer's: choose, then confirm."""
        tickets = self._visible(_ids(request.values.getlist("ids"))[:1])
        if not tickets:
            flash(_("Select at least one ticket."), "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        ticket, actor = tickets[0], current_actor()
        choices = merge.suggestions(actor, ticket)
        form = MergeForm()
        form.into.choices = [(t.id, f"{t.number} · {t.subject}") for t in choices]
        if request.method == "POST" and form.validate_on_submit():
            number = ticket.number
            merged = attempt(merge.merge, actor, ticket.id, form.into.data, origin=ORIGIN,
                             label=number)
            if merged:
                flash(_("Ticket %(old)s was merged into %(number)s.", old=number,
                        number=merged.ticket.number), "success")
                return self._back(merged.ticket.id)
        return self.render_template(
            "admin/ticket_merge.html", title=_("Merge ticket %(number)s", number=ticket.number),
            ticket=ticket, suggestions=choices, form=form,
            action_url=url_for(f"{self.endpoint}.merge_form"))

    @expose("/reassign/", methods=["GET", "POST"])
    @has_access
    def reassign_form(self):
        form = ReassignForm()
        ids = _ids(request.values.getlist("ids"))
        if request.method == "POST" and form.validate_on_submit() and ids:
            agent = int(form.agent.data) if form.agent.data else None
            self._apply(ids, service.reassign, agent)
            return self._back(ids[0] if len(ids) == 1 else None)
        return self._bulk_page(ids, form, "reassign_form", _("Reassign tickets"))

    def _bulk_page(self, ids: list[int], form: Any, endpoint: str, title: str):
        tickets = self._visible(ids)
        if not tickets:
            flash(_("Select at least one ticket."), "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        return self.render_template("admin/ticket_bulk.html", title=title, form=form,
                                    tickets=tickets, action_url=url_for(f"{self.endpoint}.{endpoint}"))

    @expose("/new/", methods=["GET", "POST"])
    @has_access
    def new(self):
        """Open a ticket on a customer's behalf, through service.open_ticket; its files
        (kept as the staff member's uploads) open the thread with the description."""
        form = OpenTicketForm()
        if form.validate_on_submit() and (files := uploaded(form.files.data)) is not None:
            outcome = attempt(
                service.open_ticket, current_actor(), customer_id=int(form.customer.data),
                subject=form.subject.data, description=form.description.data,
                priority=form.priority.data, category=form.category.data,
                channel="admin", origin=ORIGIN, attachments=files,
            )
            if outcome:
                flash(_("Ticket %(number)s opened.", number=outcome.ticket.number), "success")
                return self._back(outcome.ticket.id)
        return self.render_template("admin/ticket_new.html", title=_("New ticket for a customer"),
                                    form=form)

    # ------------------------------------------------------------------ actions

    def _visible(self, ids: list[int]) -> list[Ticket]:
        if not ids:
            return []
        return list(db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ids), policy.visible_clause(current_actor()))
            .order_by(Ticket.id)))

    def _apply(self, ids: list[int], call: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Run one service call per ticket; each refusal is flashed with its number."""
        actor, done = current_actor(), 0
        for ticket in self._visible(ids):
            number = ticket.number
            if attempt(call, actor, ticket.id, *args, origin=ORIGIN, label=number, **kwargs):
                done += 1
        if done:
            flash(ngettext("%(num)d ticket updated.", "%(num)d tickets updated.", done), "success")
        return done

    @staticmethod
    def _item_ids(items: Any) -> list[int]:
        items = items if isinstance(items, list) else [items]
        return [item.id for item in items if item is not None]

    def _act(self, items: Any, call: Callable[..., Any], **kwargs: Any):
        ids = self._item_ids(items)
        self._apply(ids, call, **kwargs)
        if len(ids) == 1 and not isinstance(items, list):  # pressed on the ticket's page
            return self._back(ids[0])
        return back(self.get_redirect)  # the list, with its filters and page

    @action("assign_to_me", _l("Assign to me"), icon="fa-hand-paper-o")
    def assign_to_me(self, items):
        return self._act(items, service.assign_self)

    @action("change_status", _l("Change status"), icon="fa-exchange")
    def change_status(self, items):
        ids = self._item_ids(items)
        return redirect(url_for(f"{self.endpoint}.status", ids=ids))

    @action("reassign", _l("Reassign"), icon="fa-users")
    def reassign(self, items):
        ids = self._item_ids(items)
        return redirect(url_for(f"{self.endpoint}.reassign_form", ids=ids))

    @action("escalate", _l("Escalate"), _l("Escalate the selected tickets?"), "fa-level-up")
    def escalate(self, items):
        return self._act(items, service.escalate)

    @action("verify_sender", _l("Verify sender"),
            _l("Show the selected tickets to their customers as theirs?"), "fa-check-circle")
    def verify_sender(self, items):
        return self._act(items, verification.verify)

    @action("merge_into", _l("Merge into…"), icon="fa-compress", multiple=False)
    def merge_into(self, items):
        ids = self._item_ids(items)
        return redirect(url_for(f"{self.endpoint}.merge_form", ids=ids[:1]))

    @action("resolve", _l("Resolve"), icon="fa-check")
    def resolve(self, items):
        return self._act(items, service.update_ticket, status=lifecycle.RESOLVED)

    @action("close", _l("Close"), _l("Close the selected tickets?"), "fa-lock")
    def close(self, items):
        return self._act(items, service.close_ticket)

