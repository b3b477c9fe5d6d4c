"""Tags and macros, the edges the main tests leave open (found by mutation testing):
the exact refusals people read, which ticket a change touches, the origin every event
carries, the ticket row locked before a change, the bounded-pattern rules, the
counts' date range and order, and the macro's language, channel and actions."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import (
    AutoTagRule, Customer, InternalNote, Macro, Message, Tag, Ticket, TicketEvent)
from support_app.security import roles
from support_app.tickets import Actor, events, macros, tags
from support_app.tickets.errors import Forbidden, NotFound, ValidationFailed

from .lock_reads import reads_of
from .querycount import count_queries

TAG_REFUSAL = "A tag is 1 to 50 characters, without commas, slashes or control characters."
PATTERN_REFUSAL = ("Use a simple pattern of at most 200 characters: no nested repeats, "
                   "back-references or look-arounds, at most two repeats and one of them "
                   "open-ended.")
KEYWORDS_REFUSAL = ("List one or more keywords, separated by commas (at most 500 "
                    "characters).")


def names(ticket_id: int) -> list[str]:
    db.session.expire_all()
    return tags.names_of(ticket_id)


def audit(ticket_id: int, kind_like: str = "tag%") -> list[tuple]:
    rows = db.session.execute(
        select(TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind.like(kind_like))
        .order_by(TicketEvent.id)).all()
    return [tuple(row) for row in rows]


def make_macro(**fields) -> Macro:
    macro = Macro(name=fields.pop("name", "Canned"), body_en=fields.pop("body_en", "Hello"),
                  **fields)
    db.session.add(macro)
    db.session.commit()
    return macro


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("value, expected", [
    ("  Late \t delivery ", "Late delivery"),
    ("Box XL", "Box XL"),
    ("Café ☕", "Café ☕"),
    ("x" * 50, "x" * 50),
])
def test_tag_names_are_trimmed_and_the_longest_allowed_is_kept(value, expected):
    """A tag name is stored trimmed with inner spaces collapsed; 50 characters (the
    column's size) and letters like X are allowed, not only refused names are checked."""
    assert tags.clean_name(value) == expected


@pytest.mark.parametrize("value, message", [
    (7, "A tag must be text."),
    (None, "A tag must be text."),
    ("", TAG_REFUSAL),
    ("x" * 51, TAG_REFUSAL),
    ("a/b", TAG_REFUSAL),
    ("bell\x07", TAG_REFUSAL),
])
def test_a_refused_tag_name_says_why_under_tag(value, message):
    """The API and the dashboard show these messages under the `tag` field."""
    with pytest.raises(ValidationFailed) as refused:
        tags.clean_name(value)
    assert refused.value.errors == {"tag": [message]}


def test_split_names_reads_a_comma_separated_list_once_per_tag():
    """A macro's or a form's list: each name cleaned, empty parts skipped, the same tag
    in another case kept once as first written."""
    assert tags.split_names("Refund, late  delivery,, REFUND ,") == ["Refund", "late delivery"]
    assert tags.split_names(None) == []
    assert tags.split_names("") == []
    assert tags.split_names(" , ") == []


def test_adding_no_tag_or_too_many_at_once_is_refused(factory):
    """A call names 1 to 20 tags; the refusal says which bound, nothing is written."""
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    with pytest.raises(ValidationFailed) as refused:
        tags.add_tags(admin.actor, ticket.id, [])
    assert refused.value.errors == {"tag": ["Name at least one tag."]}
    with pytest.raises(ValidationFailed) as refused:
        tags.remove_tags(admin.actor, ticket.id, [])
    assert refused.value.errors == {"tag": ["Name at least one tag."]}
    many = [f"t{n}" for n in range(21)]
    with pytest.raises(ValidationFailed) as refused:
        tags.add_tags(admin.actor, ticket.id, many)
    assert refused.value.errors == {"tag": ["At most 20 tags at once."]}
    assert names(ticket.id) == []
    # Twenty is the limit, not past it.
    assert len(tags.add_tags(admin.actor, ticket.id, many[:20])) == 20


# --------------------------------------------------------------------------- tag rows


def test_ensure_tags_creates_the_missing_and_returns_them_by_name_key(app_ctx):
    """Tags are created as first typed (name) with their case-folded key, and come back
    sorted by that key."""
    made = tags.ensure_tags(["zeta", "Alpha"])
    assert [(t.name, t.name_key) for t in made] == [("Alpha", "alpha"), ("zeta", "zeta")]
    db.session.commit()
    again = tags.ensure_tags(["ZETA", "beta", "alpha"])
    assert [(t.name, t.name_key) for t in again] == [("Alpha", "alpha"), ("beta", "beta"),
                                                     ("zeta", "zeta")]
    assert [t.id for t in again if t.name != "beta"] == [t.id for t in made]
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 3
    rows = db.session.execute(select(Tag.name, Tag.created_at).order_by(Tag.name_key)).all()
    assert all(created is not None for _name, created in rows)


def test_tags_that_all_exist_already_write_nothing(factory):
    """Tagging with known names on a ticket that has them runs no INSERT: no write, so
    it does not queue behind other writers."""
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    tags.add_tags(admin.actor, ticket.id, ["Refund", "vip"])
    with count_queries() as statements:
        assert [t.name for t in tags.ensure_tags(["refund", "VIP"])] == ["Refund", "vip"]
        assert tags.add_tags(admin.actor, ticket.id, ["REFUND"]) == ["Refund", "vip"]
    assert not [s for s in statements if not s.lstrip().upper().startswith(
        ("SELECT", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))], statements


def test_names_and_tags_of_a_ticket_are_its_own_sorted_by_key(factory):
    """What the ticket screens and a merge read: this ticket's tags only, by case-folded name."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    one, two, bare = (factory.ticket(customer) for _ in range(3))
    tags.add_tags(admin.actor, one.id, ["zeta"])
    tags.add_tags(admin.actor, one.id, ["Alpha"])
    tags.add_tags(admin.actor, two.id, ["other"])
    assert names(one.id) == ["Alpha", "zeta"]
    found = tags.tags_of(one.id)
    assert [(t.name, t.name_key) for t in found] == [("Alpha", "alpha"), ("zeta", "zeta")]
    assert all(isinstance(t, Tag) for t in found)
    assert [t.name for t in tags.tags_of(two.id)] == ["other"]
    assert tags.tags_of(bare.id) == [] and tags.names_of(bare.id) == []


# --------------------------------------------------------------------------- changes


def test_a_tag_another_ticket_carries_is_still_added_here(factory):
    """Which tags a ticket already has is read for this ticket only."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    one, two = factory.ticket(customer), factory.ticket(customer)
    tags.add_tags(admin.actor, two.id, ["shared"])
    assert tags.add_tags(admin.actor, one.id, ["shared", "own"]) == ["own", "shared"]
    assert audit(one.id) == [("tag_added", None, "own"), ("tag_added", None, "shared")]


def test_removing_touches_only_this_ticket_and_the_names_given(factory, recorded_events):
    """Another ticket keeps its tags; a name this ticket does not carry is neither
    audited nor announced, even when another ticket carries it."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    one, two = factory.ticket(customer), factory.ticket(customer)
    tags.add_tags(admin.actor, one.id, ["a", "b"])
    tags.add_tags(admin.actor, two.id, ["a", "c"])
    recorded_events.clear()
    assert tags.remove_tags(admin.actor, one.id, ["A", "c"]) == ["b"]
    assert names(two.id) == ["a", "c"]
    assert audit(one.id, "tag_removed") == [("tag_removed", "a", None)]
    assert audit(two.id, "tag_removed") == []
    assert tags.remove_tags(admin.actor, one.id, ["c"]) == ["b"]  # only on the other
    assert audit(one.id, "tag_removed") == [("tag_removed", "a", None)]
    changed = [(e.ticket.id, e.data) for e in recorded_events if e.name == events.TAGS_CHANGED]
    assert changed == [(one.id, {"added": [], "removed": ["a"]})]


def test_an_agent_who_may_see_but_not_work_a_ticket_may_not_untag_it(factory):
    """A pool ticket is visible to every approved agent; only whoever may work it
    (assigned agent, managers) takes its tags off."""
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    tags.add_tags(admin.actor, ticket.id, ["vip"])
    agent = factory.agent()
    assert db.session.get(Ticket, ticket.id).assigned_to_id is None
    with pytest.raises(Forbidden):
        tags.remove_tags(agent.actor, ticket.id, ["vip"])
    assert names(ticket.id) == ["vip"]


def test_tag_events_carry_the_origin_and_the_actor(factory, recorded_events):
    """Subscribers (webhooks, sockets) tell the surface that changed a ticket by its
    event's origin: "api" unless the caller says otherwise."""
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    recorded_events.clear()
    tags.add_tags(admin.actor, ticket.id, ["one"])
    tags.remove_tags(admin.actor, ticket.id, ["one"])
    tags.add_tags(admin.actor, ticket.id, ["two"], origin="admin")
    tags.remove_tags(admin.actor, ticket.id, ["two"], origin="admin")
    seen = [(e.origin, e.actor_user_id, e.data["added"], e.data["removed"])
            for e in recorded_events if e.name == events.TAGS_CHANGED]
    assert seen == [("api", admin.id, ["one"], []), ("api", admin.id, [], ["one"]),
                    ("admin", admin.id, ["two"], []), ("admin", admin.id, [], ["two"])]


def test_tagging_locks_the_ticket_row_first(factory):
    """Two agents tagging one ticket at once take turns on its row (FOR UPDATE on
    PostgreSQL, the writer turn on SQLite), so neither inserts what the other just did."""
    actor = factory.staff(roles.ADMIN).actor
    ticket_id = factory.ticket(factory.customer()).id
    with reads_of("tickets") as reads:
        tags.add_tags(actor, ticket_id, ["late"])
    assert reads and reads[0] is True
    with reads_of("tickets") as reads:
        tags.remove_tags(actor, ticket_id, ["late"])
    assert reads and reads[0] is True


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize("pattern", [
    "x" * 200,                     # the longest allowed
    r"colou?r an?d? x",           # optional parts are no repeats
    r"(ab*)?c",                    # a repeat inside an optional group is not nested
    r"(refund+|chargeback)",      # a repeat inside a branch of a group
    r"a{1,3}b{1,3}",               # two bounded repeats
])
def test_patterns_within_the_bounds_are_allowed(pattern):
    """Optional parts, groups and two bounded repeats are what rules need: not refused."""
    assert tags.check_pattern(pattern).pattern == pattern


@pytest.mark.parametrize("pattern", [
    "x" * 201,
    "a\x00b",
    r"a{2}b{2}c{2}",               # three repeats, each bounded
    r"a{1,3}b{1,3}c{1,3}",
    r"(a+){2}",                    # an open-ended repeat inside a repeated group
    r"(ab{2}){3}",
    "",
    r"(a+)+$",
])
def test_patterns_past_the_bounds_are_refused_with_the_reason(pattern):
    """Too long, a NUL, three repeats or a nested one: refused, with the admin form's message."""
    with pytest.raises(ValidationFailed) as refused:
        tags.check_pattern(pattern)
    assert refused.value.errors == {"pattern": [PATTERN_REFUSAL]}


def test_rule_patterns_ignore_case():
    """Admins write ORD-, customers type ord-: a rule's pattern ignores case."""
    assert tags.check_pattern(r"ORD-\d+").search("order ord-12")


def test_keywords_are_trimmed_and_case_folded():
    """A keyword rule matches case-insensitively on each trimmed word; 500 characters fit."""
    assert tags.check_keywords(" Refund , MONEY back,, ") == ["refund", "money back"]
    assert tags.check_keywords("k" * 500) == ["k" * 500]


@pytest.mark.parametrize("text", ["", " , ,", "k" * 501, "refund\x00"])
def test_bad_keyword_lists_are_refused_with_the_reason(text):
    """No word, too long or a NUL: the admin form shows this message under keywords."""
    with pytest.raises(ValidationFailed) as refused:
        tags.check_keywords(text)
    assert refused.value.errors == {"keywords": [KEYWORDS_REFUSAL]}


def _stored_rule(tag: str, expression: str, *, match: str = "keywords",
                 field: str = "both") -> None:
    """A rule row as the table holds it (the admin form's checks not applied)."""
    found = tags.ensure_tags([tag])[0]
    db.session.add(AutoTagRule(name=f"rule {tag}", match=match, expression=expression,
                               field=field, tag_id=found.id))
    db.session.commit()


def test_a_stored_rule_that_no_longer_passes_the_checks_is_skipped(factory):
    """A pattern saved before the checks tightened is never run (nor matches)."""
    _stored_rule("risky", r"(a+)+", match="pattern")
    _stored_rule("safe", "aaa")
    ticket = factory.ticket(factory.customer(), subject="aaaa", description="aaaa")
    assert names(ticket.id) == ["safe"]


def test_rule_fields_choose_the_text_read():
    """A rule reads the subject, the first message or both (an unknown field: both)."""
    subject_only = tags.TagRule(1, "keywords", "refund", "subject")
    message_only = tags.TagRule(1, "keywords", "refund", "first_message")
    both = tags.TagRule(1, "keywords", "refund", "both")
    other = tags.TagRule(1, "keywords", "refund", "somewhere")  # unknown: both
    for rule, in_subject, in_message in ((subject_only, True, False),
                                         (message_only, False, True),
                                         (both, True, True), (other, True, True)):
        assert tags.rule_matches(rule, "Refund please", "Hello") is in_subject, rule
        assert tags.rule_matches(rule, "Hello", "Refund please") is in_message, rule


def test_an_empty_text_matches_no_keyword():
    """A ticket without a first message is matched on nothing but its text."""
    rule = tags.TagRule(1, "keywords", "xx", "both")
    assert tags.rule_matches(rule, "Hello", None) is False
    assert tags.rule_matches(rule, "", "") is False


def test_auto_tag_events_come_from_the_system_with_the_opening_origin(factory, recorded_events):
    """An auto-tag is the desk's own change (no user), from the surface that opened the ticket."""
    _stored_rule("refund", "refund")
    customer = factory.customer()
    recorded_events.clear()
    ticket = factory.ticket(customer, subject="refund please", origin="munch")
    changed = [e for e in recorded_events if e.name == events.TAGS_CHANGED]
    assert [(e.ticket.id, e.origin, e.actor_user_id, e.data) for e in changed] == \
        [(ticket.id, "munch", None, {"added": ["refund"], "removed": []})]
    assert audit(ticket.id) == [("tag_added", None, "refund")]


# --------------------------------------------------------------------------- counts


def test_counts_most_first_then_by_name_over_a_half_open_range(factory):
    """[start, end): a ticket created exactly at the start counts, one exactly at the
    end does not; most used first, ties by name."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    start = dt.datetime(2026, 3, 1, 12, 0, 0)
    end = start + dt.timedelta(days=7)
    when = [start, start + dt.timedelta(days=1), start + dt.timedelta(days=2), end,
            end + dt.timedelta(days=3)]
    made = [factory.ticket(customer) for _ in when]
    for ticket, created in zip(made, when):
        db.session.execute(Ticket.__table__.update().where(Ticket.id == ticket.id)
                           .values(created_at=created))
    db.session.commit()
    at_start, day1, day2, at_end, after = made
    tags.add_tags(admin.actor, at_start.id, ["zeta", "mid"])
    tags.add_tags(admin.actor, day1.id, ["zeta", "beta"])
    tags.add_tags(admin.actor, day2.id, ["zeta", "alpha"])
    tags.add_tags(admin.actor, at_end.id, ["alpha", "late"])
    tags.add_tags(admin.actor, after.id, ["alpha", "late"])
    assert tags.counts(start, end) == [("zeta", 3), ("alpha", 1), ("beta", 1), ("mid", 1)]
    assert tags.counts(start + dt.timedelta(seconds=1), end + dt.timedelta(seconds=1)) == \
        [("alpha", 2), ("zeta", 2), ("beta", 1), ("late", 1)]


# --------------------------------------------------------------------------- macros


@pytest.fixture
def admin_ticket(factory):
    admin = factory.staff(roles.ADMIN, name="Amira Admin")
    customer = factory.customer(name="Claire Dubois")
    return admin, customer, factory.ticket(customer)


def test_active_macros_are_listed_by_name(app_ctx):
    """The dashboard's and the API's macro pickers list active macros alphabetically."""
    make_macro(name="Zeta reply")
    make_macro(name="Alpha reply")
    make_macro(name="Middle reply", is_active=False)
    assert [m.name for m in macros.active_macros()] == ["Alpha reply", "Zeta reply"]


def test_an_unknown_inactive_or_mistyped_macro_id_is_not_found(admin_ticket):
    """Only an integer id of an active macro is found; the API maps the rest to a 404."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro()
    for macro_id in (macro.id + 1, str(macro.id), None):
        with pytest.raises(NotFound) as missing:
            macros.preview(admin.actor, ticket.id, macro_id)
        assert (missing.value.resource, missing.value.message) == ("macro", "Macro not found")
    assert macros.preview(admin.actor, ticket.id, macro.id).macro is macro


def test_customers_are_told_macros_are_for_staff(admin_ticket):
    """The 403's message says why."""
    _admin, customer, ticket = admin_ticket
    macro = make_macro()
    with pytest.raises(Forbidden) as refused:
        macros.preview(customer.actor, ticket.id, macro.id)
    assert refused.value.message == "Only support staff may use macros"


def test_an_agent_who_may_see_but_not_work_the_ticket_sends_nothing(factory):
    """A pool ticket is visible to every approved agent, but a macro that does not
    assign it to them may not reply or act on it."""
    ticket = factory.ticket(factory.customer())
    agent = factory.agent()
    assert db.session.get(Ticket, ticket.id).assigned_to_id is None
    macro = make_macro(body_en="On it", add_tags="seen")
    with pytest.raises(Forbidden) as refused:
        macros.send(agent.actor, ticket.id, macro.id)
    assert refused.value.message == "You are not allowed to change this ticket"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert names(ticket.id) == []


def test_a_body_that_is_not_text_is_refused_under_body(admin_ticket):
    """An edited body from the API must be text: a 422 under body, nothing written."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro()
    for body in (5, ["Hello"]):
        with pytest.raises(ValidationFailed) as refused:
            macros.send(admin.actor, ticket.id, macro.id, body=body)
        assert refused.value.errors == {"body": ["The body must be a string."]}
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_the_placeholders_left_are_named_in_the_refusal(admin_ticket):
    """The agent is told which placeholders to fill, each once, in order."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro(body_en="Order {order_number} is {order_status}, {order_number}")
    with pytest.raises(ValidationFailed) as refused:
        macros.send(admin.actor, ticket.id, macro.id)
    assert refused.value.errors == {"body": [
        "Fill in or remove the placeholders first: [[order_number]], [[order_status]]"]}


def test_fill_treats_a_blank_value_as_missing():
    """A blank value would send a gap: it becomes a placeholder like a missing one."""
    assert macros.fill("Hi {name}, {name}! {other}", {"name": "  ", "other": "x"}) == \
        ("Hi [[name]], [[name]]! x", ["name"])
    assert macros.fill("Hi {name}", {"name": 0}) == ("Hi 0", [])
    assert macros.unfilled("a [[x]] b [[y]] [[x]] [[not closed]") == ["x", "y"]


def test_a_service_status_without_a_label_is_shown_as_stored(factory):
    """A status the desk has no label for is shown as the service sent it, not as None."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    order = factory.order(customer.customer, status="returned_to_sender")
    ticket = factory.ticket(customer, order_id=order.id)
    macro = make_macro(body_en="Status: {order_status}")
    result = macros.preview(admin.actor, ticket.id, macro.id)
    assert (result.body, result.missing) == ("Status: returned_to_sender", [])


@pytest.mark.parametrize("locale, language", [
    ("ar_EG", "ar"), ("ar-EG", "ar"), ("fr_CA", "fr"), ("de", "en"), ("", "en")])
def test_the_reply_language_is_the_customers_language_part(factory, locale, language):
    """Locales like ar_EG or ar-EG reply in Arabic; an unknown or empty one in English."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    ticket = factory.ticket(customer)
    db.session.execute(Customer.__table__.update().where(Customer.id == customer.customer.id)
                       .values(locale=locale))
    db.session.commit()
    macro = make_macro(body_en="Hello", body_ar="مرحبا", body_fr="Bonjour")
    result = macros.preview(admin.actor, ticket.id, macro.id)
    assert result.language == language
    assert result.body == {"ar": "مرحبا", "fr": "Bonjour", "en": "Hello"}[language]


def test_a_language_the_macro_has_no_reply_in_falls_back_to_english(factory):
    """An Arabic customer gets the English reply when the macro has no Arabic text."""
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer(locale="ar")
    ticket = factory.ticket(customer)
    for body_ar in (None, "   "):
        macro = make_macro(name=f"no arabic {body_ar!r}", body_en="Hello", body_ar=body_ar)
        result = macros.preview(admin.actor, ticket.id, macro.id)
        assert (result.language, result.body) == ("en", "Hello")


@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
def test_the_desk_itself_has_no_agent_name(admin_ticket):
    """A macro applied by the system (no account) leaves {agent_name} to fill in, and
    looks no account up by a NULL id (SQLAlchemy warns it may become an error)."""
    _admin, _customer, ticket = admin_ticket
    macro = make_macro(body_en="Regards, {agent_name}")
    result = macros.preview(Actor.system(), ticket.id, macro.id)
    assert (result.body, result.missing) == ("Regards, [[agent_name]]", ["agent_name"])


def test_sending_keeps_the_origin_on_every_change_and_channel(factory, recorded_events):
    """Every event of a macro (assignment, reply, status, priority, tags, note) carries
    the caller's origin; the reply's channel is that origin when it is a channel."""
    agent = factory.agent()
    customer = factory.customer()
    admin = factory.staff(roles.ADMIN)
    for origin, channel in (("admin", "admin"), ("munch", "api"), (None, "api")):
        ticket = factory.ticket(customer)
        tags.add_tags(admin.actor, ticket.id, ["old"])
        macro = make_macro(name=f"all {origin}", body_en="On it", set_status="on_hold",
                           set_priority="high", add_tags="new", remove_tags="old",
                           assign_to_me=True, internal_note="Checked.")
        recorded_events.clear()
        kwargs = {} if origin is None else {"origin": origin}
        result = macros.send(agent.actor, ticket.id, macro.id, **kwargs)
        seen = {e.name: e.origin for e in recorded_events}
        expected = origin or "api"
        for name in (events.ASSIGNED, events.MESSAGE_ADDED, events.STATUS_CHANGED,
                     events.PRIORITY_CHANGED, events.TAGS_CHANGED, events.NOTE_ADDED):
            assert seen.get(name) == expected, (origin, name, seen)
        assert {e.origin for e in recorded_events} == {expected}
        assert db.session.get(Message, result.message.id).channel == channel
        assert names(ticket.id) == ["new"]


def test_a_macro_without_assign_to_me_leaves_the_ticket_unassigned(admin_ticket):
    """Only assign_to_me takes the ticket; other macros leave it in the pool."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro(body_en="Noted", set_priority="low")
    macros.send(admin.actor, ticket.id, macro.id)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.assigned_to_id, ticket.priority, ticket.status) == (None, "low", "open")


def test_a_status_the_ticket_has_or_no_lifecycle_knows_is_skipped(admin_ticket, recorded_events):
    """The other actions still run: the priority changes, no status change is made."""
    admin, _customer, ticket = admin_ticket
    for set_status in ("open", "archived"):
        macro = make_macro(name=f"status {set_status}", body_en="", set_status=set_status,
                           set_priority="urgent" if set_status == "open" else "low")
        recorded_events.clear()
        macros.send(admin.actor, ticket.id, macro.id)
        db.session.expire_all()
        current = db.session.get(Ticket, ticket.id)
        assert current.status == "open"
        assert current.priority == ("urgent" if set_status == "open" else "low")
        assert events.STATUS_CHANGED not in [e.name for e in recorded_events]


def test_a_blank_internal_note_adds_no_note(admin_ticket):
    """A note of spaces in the macro form adds no empty note."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro(body_en="", internal_note="   ", set_priority="high")
    macros.send(admin.actor, ticket.id, macro.id)
    assert db.session.scalar(select(func.count()).select_from(InternalNote)) == 0


def test_sending_locks_the_ticket_before_it_renders_and_preview_does_not(admin_ticket):
    """A macro's reply and actions are decided on a locked row (no other change slips
    in between); a preview writes nothing and holds nothing."""
    admin, _customer, ticket = admin_ticket
    actor, ticket_id = admin.actor, ticket.id
    macro_id = make_macro(name="note only", body_en="", internal_note="Seen.").id
    with reads_of("tickets") as reads:
        macros.preview(actor, ticket_id, macro_id)
    assert reads and not any(reads)
    with reads_of("tickets") as reads:
        macros.send(actor, ticket_id, macro_id)
    assert reads and reads[0] is True


def test_sending_audits_the_macro_by_name(admin_ticket):
    """The history says which macro was applied, and by whom."""
    admin, _customer, ticket = admin_ticket
    macro = make_macro(name="Refund issued", body_en="Done")
    macros.send(admin.actor, ticket.id, macro.id)
    assert audit(ticket.id, "macro") == [("macro", None, "Refund issued")]
    assert db.session.scalar(select(TicketEvent.actor_id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "macro")) == admin.id

