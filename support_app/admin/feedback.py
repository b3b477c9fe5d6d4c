"""Customer ratings (read-only), headed by the overall average rating."""
from __future__ import annotations

from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Feedback
from . import permissions as perms
from .base import DeskModelView, isolated, ticket_link, timestamp


class FeedbackView(DeskModelView):
    datamodel = SQLAInterface(Feedback)
    class_permission_name = perms.FEEDBACK
    route_base = "/feedback"
    list_title = _l("Feedback")
    list_template = "admin/feedback_list.html"
    base_permissions = ["can_list", "can_show"]
    base_order = ("created_at", "desc")
    list_columns = ["created_at", "ticket", "customer", "rating", "comment"]
    search_columns = ["rating", "customer", "ticket", "created_at"]
    formatters_columns = {"ticket": ticket_link, "customer": isolated, "created_at": timestamp}
    label_columns = {"created_at": _l("When"), "ticket": _l("Ticket"),
                     "customer": _l("Customer"), "rating": _l("Rating"),
                     "comment": _l("Comment")}

    @expose("/list/")
    @has_access
    def list(self):
        widgets = self._list()
        average, count = db.session.execute(
            select(func.avg(Feedback.rating), func.count(Feedback.id))
        ).one()
        return self.render_template(self.list_template, title=self.list_title, widgets=widgets,
                                    average=None if average is None else float(average),
                                    count=count)
