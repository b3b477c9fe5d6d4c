"""The ticket screen's agent tools: tags (on the page and in bulk from the list) and
macros (preview in the customer's language, then send). Mixed into `TicketView`;
every change goes through `tickets.tags` / `tickets.macros`."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import action, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..tickets import macros, tags
from ..tickets.errors import ValidationFailed
from .base import attempt, current_actor, error_text
from .labels import language_name
from .ticket_forms import MacroForm, TagsForm

ORIGIN = "admin"


def _names(text: str | None) -> list[str] | None:
    """Comma-separated names, or None after flashing why they are refused."""
    try:
        return tags.split_names(text)
    except ValidationFailed as err:
        flash(error_text(err), "danger")
        return None


class TicketToolsMixin:
    """Needs TicketView's `_ids`-style helpers: `_visible`, `_back`, `_bulk_page`,
    `_item_ids`."""

    def _change_tags(self, ids: list[int], add: str | None, remove: str | None) -> int:
        added, removed = _names(add), _names(remove)
        if added is None or removed is None:
            return 0
        if not (added or removed):
            flash(_("Name at least one tag."), "warning")
            return 0
        actor, done = current_actor(), 0
        for ticket in self._visible(ids):
            number = ticket.number
            ok = True
            if added:
                ok = attempt(tags.add_tags, actor, ticket.id, added, origin=ORIGIN,
                             label=number) is not None
            if ok and removed:
                ok = attempt(tags.remove_tags, actor, ticket.id, removed, origin=ORIGIN,
                             label=number) is not None
            done += ok
        if done:
            flash(ngettext("%(num)d ticket updated.", "%(num)d tickets updated.", done), "success")
        return done

    @expose("/tags/<int:pk>", methods=["POST"])
    @has_access
    def tags(self, pk: int):
        """The ticket page's tag box (add) and each tag's remove button."""
        form = TagsForm()
        if not form.validate_on_submit():
            flash(_("The tags were not changed: reload the page and try again."), "danger")
        else:
            self._change_tags([pk], form.add.data, form.remove.data)
        return self._back(pk)

    @expose("/tag/", methods=["GET", "POST"])
    @has_access
    def tag_form(self):
        """Add and/or remove tags on the tickets named by `ids`."""
        form = TagsForm()
        ids = sorted({int(v) for v in request.values.getlist("ids") if str(v).isdigit()})
        if request.method == "POST" and form.validate_on_submit() and ids:
            if self._change_tags(ids, form.add.data, form.remove.data):
                return self._back(ids[0] if len(ids) == 1 else None)
        return self._bulk_page(ids, form, "tag_form", _("Tag tickets"))

    @action("tag", _l("Tag"), icon="fa-tags")
    def tag(self, items):
        return redirect(url_for(f"{self.endpoint}.tag_form", ids=self._item_ids(items)))

    @expose("/macro/<int:pk>", methods=["GET", "POST"])
    @has_access
    def macro(self, pk: int):
        """GET `?macro=ID`: the reply previewed in the customer's language, to edit;
        POST: send it and run the macro's actions (one change)."""
        self._show(pk)  # 404 unless this user may see the ticket
        form = MacroForm() if request.method == "POST" else MacroForm(formdata=None)
        actor = current_actor()
        chosen = request.values.get("macro", "")
        if not chosen.isdigit() or chosen not in {value for value, _n in form.macro.choices}:
            flash(_("Choose a macro."), "warning")
            return self._back(pk)
        if request.method == "POST" and form.validate_on_submit():
            sent = attempt(macros.send, actor, pk, int(chosen), body=form.body.data or "",
                           origin=ORIGIN)
            if sent is not None:
                flash(_("Macro %(name)s applied.", name=sent.macro.name), "success")
                return self._back(pk)
        preview = attempt(macros.preview, actor, pk, int(chosen))
        if preview is None:
            return self._back(pk)
        form.macro.data = chosen
        if request.method == "GET":
            form.body.data = preview.body
        missing = macros.unfilled(form.body.data or "") if request.method == "POST" \
            else preview.missing
        return self.render_template(
            "admin/ticket_macro.html", title=_("Apply macro"), form=form, pk=pk,
            macro=preview.macro, language=preview.language, missing=missing,
            language_label=language_name(preview.language),
            placeholders=[macros.placeholder(name) for name in missing])
