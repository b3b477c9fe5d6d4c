"""The ticket page's SLA panel: each target with its due time, state and business
time left, in the viewer's language (clock and defaults from `sla_helpers`)."""
from __future__ import annotations

import re

from support_app.extensions import db
from support_app.security import roles
from support_app.tickets import service

from .admin_helpers import desk_client, login
from .sla_helpers import move
from .test_i18n import tr


def sla_panel(app, person, ticket_id: int) -> str:
    client = desk_client(app)
    login(client, person.user.email)
    html = client.get(f"/tickets/show/{ticket_id}").get_data(as_text=True)
    return re.search(r'<div class="panel panel-default" id="ticket-sla">.*?</table>', html,
                     re.S).group(0)


def test_the_panel_shows_each_target_with_its_state_and_time_left(app, desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 13:30")
    panel = sla_panel(app, desk.admin, ticket.id)
    assert "Default" in panel and "Service level" in panel
    first = re.search(r'id="sla-first_response".*?</tr>', panel, re.S).group(0)
    assert "2026-12-07 14:00" in first and "At risk" in first and "0:30 left" in first
    resolution = re.search(r'id="sla-resolution".*?</tr>', panel, re.S).group(0)
    assert "2026-12-14 10:00" in resolution and "On track" in resolution
    assert "36:30 left" in resolution
    assert "sla-next_response" not in panel


def test_a_paused_late_ticket_in_arabic(app, desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 15:00")
    service.add_message(desk.admin.actor, ticket.id, "Sorry for the wait.")
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold")
    desk.admin.user.locale = "ar"
    db.session.commit()
    panel = sla_panel(app, desk.admin, ticket.id)
    assert tr("ar", "Service level") in panel and tr("ar", "Met late") in panel
    assert tr("ar", "Paused since %(time)s").replace("%(time)s", "") in panel
    assert 'dir="ltr" class="desk-when">2026-12-07 15:00</bdi>' in panel  # the pause time, not escaped


def test_without_a_policy_the_panel_says_so(app, factory, clock):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    assert "No SLA policy applies to this ticket." in sla_panel(app, admin, ticket.id)
