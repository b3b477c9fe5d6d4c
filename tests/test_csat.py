"""Satisfaction surveys: one email per resolved ticket, held back `CSAT_DELAY_SECONDS`,
cancelled by a reopen or an opt-out, never sent twice; its signed one-click links
(tampered, expired, reused, another ticket's) record the ticket's one feedback."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app
from sqlalchemy import select, update

from support_app.extensions import db
from support_app.models import Customer, EmailLog, Feedback, Notification, TicketEvent, utcnow
from support_app.notify import outbox
from support_app.security import roles, survey_links
from support_app.tickets import events, feedback, service


SURVEY = feedback.SURVEY_TEMPLATE


@pytest.fixture(autouse=True)
def mail_server(smtp):
    """A real SMTP server on loopback: mail is queued (without one it is `not_sent`)."""
    return smtp


def surveys(ticket_id: int) -> list[EmailLog]:
    db.session.expire_all()
    return list(db.session.scalars(select(EmailLog).where(
        EmailLog.ticket_id == ticket_id, EmailLog.template == SURVEY).order_by(EmailLog.id)))


def fall_due(ticket_id: int) -> None:
    """The delay passes: the held-back row becomes due."""
    db.session.execute(update(EmailLog).where(
        EmailLog.ticket_id == ticket_id, EmailLog.template == SURVEY,
        EmailLog.status == "queued").values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()


@pytest.fixture
def desk(factory):
    """A customer's ticket worked by an approved agent, and an admin."""
    class Desk:
        admin = factory.staff(roles.ADMIN)
        agent = factory.agent(name="Agent Smith")

        def ticket(self, person, **fields):
            ticket = factory.ticket(person, **fields)
            service.assign_self(self.agent.actor, ticket.id)
            return ticket

        def resolve(self, ticket):
            service.update_ticket(self.agent.actor, ticket.id, status="resolved")
    return Desk()


def links_of(body: str) -> dict[int, str]:
    found = re.findall(r"(\d) - [^:\n]+: (http\S+)", body)
    return {int(rating): url for rating, url in found}


def path_of(url: str) -> str:
    return url.removeprefix(current_app.config["PUBLIC_URL"])


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def followup_of(html: str) -> str:
    return re.search(r'name="followup" value="([^"]+)"', html).group(1)


def rate(client, path: str):
    """What the browser does: open the link, then the page's form posts itself."""
    page = client.get(path)
    if page.status_code != 200:
        return page, page
    return page, client.post(path, data={"csrf_token": csrf_of(page.get_data(as_text=True))})


# --------------------------------------------------------------------------- scheduling


def test_resolve_schedules_one_survey_sent_after_the_delay(factory, desk, smtp):
    alice = factory.customer(name="Alice Buyer", email="alice@example.com")
    ticket = desk.ticket(alice, subject="Broken mug")
    before = utcnow()
    desk.resolve(ticket)
    [row] = surveys(ticket.id)
    delay = current_app.config["CSAT_DELAY_SECONDS"]
    assert delay == 3600
    assert row.status == "queued" and row.to_address == "alice@example.com"
    assert before + dt.timedelta(seconds=delay) <= row.next_attempt_at \
        <= utcnow() + dt.timedelta(seconds=delay)

    outbox.deliver_due()  # the other mails go; the survey waits for its time
    assert [m["Subject"] for m in smtp.messages if "How did we do" in m["Subject"]] == []
    assert surveys(ticket.id)[0].status == "queued"

    fall_due(ticket.id)
    assert outbox.deliver_due() == 1
    [msg] = [m for m in smtp.messages if "How did we do" in m["Subject"]]
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == f"[{ticket.number}] How did we do? Broken mug"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    links = links_of(text)
    assert sorted(links) == [1, 2, 3, 4, 5]
    assert all(url.startswith(f"http://127.0.0.1:5000/survey/{ticket.number}/") for url in links.values())
    assert len(set(links.values())) == 5
    assert all(url.replace("&", "&amp;") in html for url in links.values())
    assert "Hello Alice Buyer," in text and "Very satisfied" in text
    assert surveys(ticket.id)[0].status == "sent"

    # Closed afterwards, reopened and resolved again: never a second survey.
    service.add_message(alice.actor, ticket.id, "It broke again.")
    desk.resolve(ticket)
    assert [r.status for r in surveys(ticket.id)] == ["sent"]


def test_survey_is_in_the_customers_language(factory, desk, smtp):
    layla = factory.customer(name="Layla", email="layla@example.com", locale="ar")
    ticket = desk.ticket(layla)
    desk.resolve(ticket)
    fall_due(ticket.id)
    outbox.deliver_due()
    [msg] = [m for m in smtp.messages
             if len(links_of(m.get_body(("plain",)).get_content())) == 5]
    html = msg.get_body(("html",)).get_content()
    assert '<html lang="ar" dir="rtl"' in html
    assert msg["To"] == "layla@example.com"
    assert "How did we do" not in msg["Subject"] and ticket.number in msg["Subject"]


def test_reopen_cancels_the_pending_survey_and_a_new_resolve_schedules_again(factory, desk):
    bob = factory.customer()
    ticket = desk.ticket(bob)
    desk.resolve(ticket)
    service.add_message(bob.actor, ticket.id, "Not fixed, sorry.")  # reopens
    assert [r.status for r in surveys(ticket.id)] == ["cancelled"]
    fall_due(ticket.id)
    assert outbox.deliver_due() >= 0
    assert [r.status for r in surveys(ticket.id)] == ["cancelled"]
    desk.resolve(ticket)  # nothing went out: this resolve gets its survey
    assert [r.status for r in surveys(ticket.id)] == ["cancelled", "queued"]


def test_staff_reopen_cancels_too_and_rollback_writes_nothing(factory, desk):
    carol = factory.customer()
    ticket = desk.ticket(carol)
    desk.resolve(ticket)
    service.update_ticket(desk.admin.actor, ticket.id, status="in_progress")
    assert [r.status for r in surveys(ticket.id)] == ["cancelled"]


def test_no_survey_for_a_customer_who_opted_out_and_opting_out_cancels(factory, desk, client):
    dora = factory.customer()
    ticket = desk.ticket(dora)
    desk.resolve(ticket)
    assert [r.status for r in surveys(ticket.id)] == ["queued"]
    # Staff turn surveys off: the held-back one is cancelled, later ones never written.
    feedback.set_survey_opt_out(desk.admin.actor, dora.customer.id, True)
    assert [r.status for r in surveys(ticket.id)] == ["cancelled"]
    other = desk.ticket(dora)
    desk.resolve(other)
    assert surveys(other.id) == []
    # Another customer may not change Dora's preference.
    eve = factory.customer()
    with pytest.raises(Exception) as refused:
        feedback.set_survey_opt_out(eve.actor, dora.customer.id, False)
    assert type(refused.value).__name__ == "Forbidden"


def test_no_survey_once_feedback_is_given(factory, desk):
    erin = factory.customer()
    ticket = desk.ticket(erin)
    service.update_ticket(desk.agent.actor, ticket.id, status="resolved")
    service.add_message(erin.actor, ticket.id, "reopen")
    service.update_ticket(desk.agent.actor, ticket.id, status="resolved")
    service.submit_feedback(erin.actor, ticket.id, 5)
    service.add_message(erin.actor, ticket.id, "again")
    service.update_ticket(desk.agent.actor, ticket.id, status="resolved")
    assert [r.status for r in surveys(ticket.id)] == ["cancelled", "cancelled"]


# --------------------------------------------------------------------------- the links


def survey_links_for(ticket) -> dict[int, str]:
    [row] = [r for r in surveys(ticket.id) if r.status in ("queued", "sent")]
    return {rating: path_of(url) for rating, url in links_of(row.body_text).items()}


def test_one_click_records_the_rating_notifies_the_agent_and_takes_a_comment(
        client, factory, desk, recorded_events):
    frank = factory.customer(name="Frank")
    ticket = desk.ticket(frank)
    desk.resolve(ticket)
    links = survey_links_for(ticket)

    page = client.get(links[4])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="rate"' in html and "Satisfied" in html
    assert db.session.scalar(select(Feedback.id)) is None  # a GET records nothing

    done = client.post(links[4], data={"csrf_token": csrf_of(html)})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "your rating is recorded" in html
    db.session.expire_all()
    entry = db.session.scalars(select(Feedback)).one()
    assert (entry.ticket_id, entry.customer_id, entry.rating, entry.comment) == \
        (ticket.id, frank.customer.id, 4, None)
    [event] = [e for e in recorded_events if e.name == events.FEEDBACK]
    assert event.origin == "survey" and event.data["rating"] == 4
    [notice] = db.session.scalars(select(Notification).where(
        Notification.user_id == desk.agent.id, Notification.kind == "feedback")).all()
    assert "4 of 5" in notice.body and notice.ticket_id == ticket.id

    # The comment, once; then the opt-out, from the same page.
    follow = followup_of(html)
    number = ticket.number
    said = client.post(f"/survey/{number}/followup/comment",
                       data={"csrf_token": csrf_of(html), "followup": follow,
                             "comment": "Quick and kind."})
    assert said.status_code == 200 and "Thank you for your comment" in said.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Feedback, entry.id).comment == "Quick and kind."
    again = client.post(f"/survey/{number}/followup/comment",
                        data={"csrf_token": csrf_of(html), "followup": follow, "comment": "x"})
    assert again.status_code == 409
    assert db.session.get(Feedback, entry.id).comment == "Quick and kind."
    kinds = db.session.scalars(select(TicketEvent.kind).where(
        TicketEvent.ticket_id == ticket.id)).all()
    assert "feedback" in kinds and "feedback_comment" in kinds

    out = client.post(f"/survey/{number}/followup/opt-out",
                      data={"csrf_token": csrf_of(html), "followup": follow})
    assert out.status_code == 200
    db.session.expire_all()
    assert db.session.get(Customer, frank.customer.id).survey_opt_out is True


def test_a_used_link_and_every_other_link_of_the_ticket_are_refused(client, factory, desk):
    gina = factory.customer()
    ticket = desk.ticket(gina)
    desk.resolve(ticket)
    links = survey_links_for(ticket)
    _page, done = rate(client, links[5])
    assert done.status_code == 200
    for rating in (5, 1):
        reused = client.get(links[rating])
        assert reused.status_code == 409
        assert "already recorded" in reused.get_data(as_text=True)
        assert 'id="rate"' not in reused.get_data(as_text=True)
    # Replaying the POST (a second tab, a double click) changes nothing either.
    replay = client.post(links[1], data={"csrf_token": csrf_of(_page.get_data(as_text=True))})
    assert replay.status_code == 409
    db.session.expire_all()
    assert [f.rating for f in db.session.scalars(select(Feedback))] == [5]


def test_tampered_forged_and_another_tickets_links_are_refused(client, factory, desk):
    hana = factory.customer()
    ivan = factory.customer()
    mine, theirs = desk.ticket(hana), desk.ticket(ivan)
    desk.resolve(mine)
    desk.resolve(theirs)
    link = survey_links_for(mine)[3]
    token = link.rsplit("/", 1)[1]
    other_number = theirs.number
    head, payload_sig = token.split(".", 1)
    tampered = [
        link[:-2] + ("AA" if not link.endswith("AA") else "BB"),  # signature changed
        f"/survey/{mine.number}/{head[:-1]}{'x' if head[-1] != 'x' else 'y'}.{payload_sig}",
        f"/survey/{other_number}/{token}",  # my link on Ivan's ticket
        f"/survey/TKT-NOPE/{token}",
        f"/survey/{mine.number}/not-a-token",
        f"/survey/TKT%00{mine.number}/{token}",  # a NUL never reaches the database
        f"/survey/{'T' * 5000}/{token}",
    ]
    with current_app.test_request_context():
        # Signed with another purpose's salt (a follow-up token is no rating link).
        tampered.append(f"/survey/{mine.number}/"
                        + survey_links.followup_token(1, mine.id, hana.customer.id))
        # A genuine signature for a rating outside 1..5.
        tampered.append(f"/survey/{mine.number}/"
                        + survey_links.rating_token(mine.id, hana.customer.id, 9))
    for path in tampered:
        page, posted = rate(client, path)
        assert page.status_code == 400, path
        assert "not valid" in page.get_data(as_text=True)
        assert client.post(path, data={}).status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(Feedback.id)) is None


def test_expired_link_is_refused(client, factory, desk, app):
    jane = factory.customer()
    ticket = desk.ticket(jane)
    desk.resolve(ticket)
    link = survey_links_for(ticket)[2]
    saved = app.config["CSAT_LINK_MAX_AGE"]
    app.config["CSAT_LINK_MAX_AGE"] = -1
    try:
        page = client.get(link)
        assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    finally:
        app.config["CSAT_LINK_MAX_AGE"] = saved
    assert db.session.scalar(select(Feedback.id)) is None


def test_post_without_the_pages_csrf_token_records_nothing(client, factory, desk):
    kim = factory.customer()
    ticket = desk.ticket(kim)
    desk.resolve(ticket)
    link = survey_links_for(ticket)[1]
    r = client.post(link, data={})
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert db.session.scalar(select(Feedback.id)) is None


def test_a_reopened_tickets_link_waits_and_bad_comments_are_4xx(client, factory, desk):
    lee = factory.customer()
    ticket = desk.ticket(lee)
    desk.resolve(ticket)
    link = survey_links_for(ticket)[3]
    service.add_message(lee.actor, ticket.id, "Still broken")  # reopened
    r = client.get(link)
    assert r.status_code == 409 and "once the ticket is resolved" in r.get_data(as_text=True)
    desk.resolve(ticket)
    page, done = rate(client, link)  # the earlier link is still this ticket's, unused
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    for comment in ("", "x" * 5001, "a\x00b"):
        bad = client.post(f"/survey/{ticket.number}/followup/comment",
                          data={"csrf_token": csrf_of(html), "followup": followup_of(html),
                                "comment": comment})
        assert bad.status_code == 422, comment[:5]
    forged_opt_out = client.post(f"/survey/{ticket.number}/followup/opt-out",
                                 data={"csrf_token": csrf_of(html), "followup": "forged.token"})
    assert forged_opt_out.status_code == 400
    assert db.session.get(Customer, lee.customer.id).survey_opt_out is False
    forged = client.post(f"/survey/{ticket.number}/followup/comment",
                         data={"csrf_token": csrf_of(html), "followup": "forged.token",
                               "comment": "hi"})
    assert forged.status_code == 400
    db.session.expire_all()
    assert db.session.scalars(select(Feedback.comment)).one() is None


def test_a_merged_tickets_survey_is_the_survivors(client, factory, desk):
    """A resolved ticket merged into another before its survey went out: the held-back
    survey is cancelled (the survivor gets its own when it is resolved), and a link of
    the merged ticket already sent speaks for the survivor: it waits while the survivor
    is open (the page offers no rating it would refuse) and then rates the survivor."""
    from support_app.tickets import merge

    mia = factory.customer()
    a, b = desk.ticket(mia), desk.ticket(mia)
    desk.resolve(a)
    link = survey_links_for(a)[4]
    merge.merge(desk.admin.actor, a.id, b.id)
    assert [row.status for row in surveys(b.id)] == ["cancelled"]  # A's row, now on B
    page = client.get(link)
    assert page.status_code == 409 and "once the ticket is resolved" in page.get_data(as_text=True)
    desk.resolve(b)
    assert [row.status for row in surveys(b.id)] == ["cancelled", "queued"]
    _page, done = rate(client, link)
    assert done.status_code == 200
    db.session.expire_all()
    assert [(f.ticket_id, f.rating) for f in db.session.scalars(select(Feedback))] == [(b.id, 4)]


# --------------------------------------------------------------------------- staff


@pytest.mark.parametrize("role, allowed", [(roles.ADMIN, True), (roles.STORE_MANAGER, True),
                                           (roles.FULFILLMENT, False)])
def test_staff_stop_and_allow_surveys_on_the_customers_screen(app, factory, role, allowed):
    from .admin_helpers import desk_client, login, page_token

    staff = factory.staff(role)
    mia = factory.customer()
    client = desk_client(app)
    login(client, staff.user.email)
    token = page_token(client, "/users/userinfo/")
    client.post("/customers/action_post", data={"action": "surveys_off",
                                                "rowid": [mia.customer.id], "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Customer, mia.customer.id).survey_opt_out is allowed
    if allowed:
        client.post(f"/customers/action/surveys_on/{mia.customer.id}",
                    data={"csrf_token": token})
        db.session.expire_all()
        assert db.session.get(Customer, mia.customer.id).survey_opt_out is False


def test_signed_links_carry_their_ticket_and_refuse_every_alteration(app_ctx):
    """The links as functions (security/survey_links.py): what a genuine link reads as,
    and each refusal's code and message, rating bounds included (issue 28 mutants)."""
    from itsdangerous import URLSafeTimedSerializer

    def refused(read, token, ticket_id):
        with pytest.raises(survey_links.LinkRefused) as caught:
            read(token, ticket_id)
        return caught.value.code, caught.value.message

    invalid = ("TOKEN_INVALID", "This survey link is not valid.")
    for rating in (1, 5):
        token = survey_links.rating_token(7, 3, rating)
        assert survey_links.read_rating(token, 7) == survey_links.RatingLink(7, 3, rating)
        assert refused(survey_links.read_rating, token, 8) == invalid
        assert refused(survey_links.read_rating, token, None) == invalid
        assert refused(survey_links.read_followup, token, 7) == invalid  # another purpose's salt
    for rating in (0, 6):
        assert refused(survey_links.read_rating, survey_links.rating_token(7, 3, rating), 7) == invalid
    assert refused(survey_links.read_rating, survey_links.rating_token(7, 3, 5)[:-2], 7) == invalid

    follow = survey_links.followup_token(11, 7, 3)
    assert survey_links.read_followup(follow, 7) == survey_links.FollowUp(11, 7, 3)
    assert refused(survey_links.read_followup, follow, 8) == invalid
    assert refused(survey_links.read_rating, follow, 7) == invalid

    def signed(salt, payload):  # a genuine signature over a payload no link carries
        return URLSafeTimedSerializer(current_app.secret_key, salt=salt).dumps(payload)

    for payload in ([7, 3, 5], {"t": 7, "c": 3}, {"t": 7, "c": True, "r": 5},
                    {"t": 7, "c": "3", "r": 5}, {"t": 7, "c": 3, "r": 5.0}):
        assert refused(survey_links.read_rating, signed(survey_links.RATING_SALT, payload), 7) == invalid
    assert refused(survey_links.read_followup,
                   signed(survey_links.FOLLOWUP_SALT, {"f": 11, "t": 7}), 7) == invalid

    expired = ("TOKEN_EXPIRED", "This survey link has expired.")
    rating = survey_links.rating_token(7, 3, 5)
    ages = {name: current_app.config[name] for name in ("CSAT_LINK_MAX_AGE", "CSAT_FOLLOWUP_MAX_AGE")}
    try:  # each kind of link past its own age, the other still good
        current_app.config["CSAT_LINK_MAX_AGE"] = -1
        assert refused(survey_links.read_rating, rating, 7) == expired
        assert survey_links.read_followup(follow, 7).feedback_id == 11
        current_app.config.update(ages, CSAT_FOLLOWUP_MAX_AGE=-1)
        assert refused(survey_links.read_followup, follow, 7) == expired
        assert survey_links.read_rating(rating, 7).rating == 5
    finally:
        current_app.config.update(ages)
    assert survey_links.rating_url("TKT-7", "abc") == f"{current_app.config['PUBLIC_URL']}/survey/TKT-7/abc"
