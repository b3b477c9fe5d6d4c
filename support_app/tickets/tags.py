"""Tags on tickets: staff add and remove them (audited, one `ticket.tags_changed`
event), macros do it inside their own transaction, and auto-tag rules tag a ticket
as it opens, whatever the channel (`service.open_ticket` calls `apply_rules`).

A tag's name is unique case-insensitively: `name_key` is its case-folded form.
Rule patterns are a bounded subset of regular expressions (`check_pattern`): no
nested or back-referencing constructs, at most two repeats, so matching a message
stays linear-ish whatever an admin types (no ReDoS).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import AutoTagRule, Tag, Ticket, TicketTag, utcnow
from ..models.tags import TAG_NAME_MAX as TAG_NAME_MAX_LEN
from . import events, service
from .actor import Actor
from .errors import ValidationFailed
from .rule_cache import RuleCache

AUTO_TAGGER = "auto-tag"
MAX_TAGS_PER_CALL = 20
MAX_PATTERN = 200
MAX_KEYWORDS = 500
SCANNED = 1000  # characters of the subject / first message a rule reads


# --------------------------------------------------------------------------- names


def clean_name(value: object) -> str:
    """A tag name as stored: trimmed, inner spaces collapsed; refused when empty, too
    long, or holding a comma, a slash, a control character or U+FFFD."""
    if not isinstance(value, str):
        raise ValidationFailed({"tag": [_("A tag must be text.")]})
    name = " ".join(value.split())
    # U+FFFD is what undecodable bytes (a bad URL path) became: not a name anyone typed.
    bad = any(unicodedata.category(ch).startswith("C") for ch in name) or any(
        ch in name for ch in ",/\ufffd")
    if not name or len(name) > TAG_NAME_MAX_LEN or bad:
        raise ValidationFailed({"tag": [_(
            "A tag is 1 to %(max)d characters, without commas, slashes or control characters.",
            max=TAG_NAME_MAX_LEN)]})
    return name


def key_of(name: str) -> str:
    return name.casefold()


def split_names(text: str | None) -> list[str]:
    """"Refund, late delivery" -> ["Refund", "late delivery"] (a form's or a macro's
    comma-separated list), each cleaned; duplicates (in any case) once."""
    names: dict[str, str] = {}
    for part in (text or "").split(","):
        if part.strip():
            name = clean_name(part)
            names.setdefault(key_of(name), name)
    return list(names.values())


def _clean_all(names: Iterable[object]) -> list[str]:
    cleaned: dict[str, str] = {}
    for value in names:
        name = clean_name(value)
        cleaned.setdefault(key_of(name), name)
    if not cleaned:
        raise ValidationFailed({"tag": [_("Name at least one tag.")]})
    if len(cleaned) > MAX_TAGS_PER_CALL:
        raise ValidationFailed({"tag": [_("At most %(max)d tags at once.",
                                          max=MAX_TAGS_PER_CALL)]})
    return list(cleaned.values())


def ensure_tags(names: Sequence[str]) -> list[Tag]:
    """The tags of these (clean) names, creating the missing ones; two writers creating
    the same name at once get the same row (INSERT ... ON CONFLICT DO NOTHING)."""
    keys = {key_of(name): name for name in names}
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    missing = set(keys) - set(db.session.scalars(
        select(Tag.name_key).where(Tag.name_key.in_(keys))))
    if missing:
        db.session.execute(
            insert(Tag).values([{"name": keys[k], "name_key": k, "created_at": utcnow()}
                                for k in sorted(missing)])
            .on_conflict_do_nothing(index_elements=["name_key"]))
    return list(db.session.scalars(select(Tag).where(Tag.name_key.in_(keys))
                                   .order_by(Tag.name_key)))


def names_of(ticket_id: int) -> list[str]:
    return list(db.session.scalars(
        select(Tag.name).join(TicketTag, TicketTag.tag_id == Tag.id)
        .where(TicketTag.ticket_id == ticket_id).order_by(Tag.name_key)))


def tags_of(ticket_id: int) -> list[Tag]:
    return list(db.session.scalars(
        select(Tag).join(TicketTag, TicketTag.tag_id == Tag.id)
        .where(TicketTag.ticket_id == ticket_id).order_by(Tag.name_key)))


# --------------------------------------------------------------------------- changes


def attach(ticket: Ticket, actor: Actor, tags: Sequence[Tag], origin: str) -> list[str]:
    """Inside a service transaction: put `tags` on the ticket; the names newly added."""
    have = set(db.session.scalars(select(TicketTag.tag_id)
                                  .where(TicketTag.ticket_id == ticket.id)))
    added = [tag for tag in tags if tag.id not in have]
    if not added:
        return []
    now = utcnow()
    db.session.execute(TicketTag.__table__.insert(), [
        {"ticket_id": ticket.id, "tag_id": tag.id, "created_at": now} for tag in added])
    for tag in added:
        service._audit(ticket, actor, "tag_added", None, tag.name)
    names = [tag.name for tag in added]
    service._publish(events.TAGS_CHANGED, ticket, actor, origin, added=names, removed=[])
    return names


def detach(ticket: Ticket, actor: Actor, names: Sequence[str], origin: str) -> list[str]:
    """Inside a service transaction: take these names off the ticket; those removed."""
    keys = {key_of(name) for name in names}
    present = db.session.execute(
        select(Tag.id, Tag.name).join(TicketTag, TicketTag.tag_id == Tag.id)
        .where(TicketTag.ticket_id == ticket.id, Tag.name_key.in_(keys))).all()
    if not present:
        return []
    db.session.execute(delete(TicketTag).where(
        TicketTag.ticket_id == ticket.id, TicketTag.tag_id.in_([tag_id for tag_id, _n in present])))
    removed = sorted(name for _id, name in present)
    for name in removed:
        service._audit(ticket, actor, "tag_removed", name, None)
    service._publish(events.TAGS_CHANGED, ticket, actor, origin, added=[], removed=removed)
    return removed


def add_tags(actor: Actor, ticket_id: int, names: Iterable[object], *,
             origin: str = "api") -> list[str]:
    """Staff who may work the ticket tag it (creating new tag names as needed); the
    ticket's tags afterwards."""
    cleaned = _clean_all(names)
    with service._transaction():
        ticket = service.get_ticket(actor, ticket_id, lock=True)
        service._require_staff_work(actor, ticket)
        attach(ticket, actor, ensure_tags(cleaned), origin)
        return names_of(ticket.id)


def remove_tags(actor: Actor, ticket_id: int, names: Iterable[object], *,
                origin: str = "api") -> list[str]:
    """Take tags off (a name the ticket does not carry changes nothing); the ticket's
    tags afterwards."""
    cleaned = _clean_all(names)
    with service._transaction():
        ticket = service.get_ticket(actor, ticket_id, lock=True)
        service._require_staff_work(actor, ticket)
        detach(ticket, actor, cleaned, origin)
        return names_of(ticket.id)


# --------------------------------------------------------------------------- rules


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_REFUSED = {"GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE",
            "GROUPREF_UNI_IGNORE", "ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"}
MAX_REPEATS = 2
MAX_BOUNDED = 20


def _walk(parsed, inside_repeat: bool, counts: dict[str, int]) -> None:
    for op, arg in parsed:
        name = str(op)
        if name in _REFUSED:
            raise ValueError("construct")
        if name in _REPEATS:
            low, high, sub = arg
            if inside_repeat:
                raise ValueError("nested")
            if high == re._constants.MAXREPEAT:  # type: ignore[attr-defined]
                counts["unbounded"] += 1
            elif high > MAX_BOUNDED:
                raise ValueError("bound")
            if high > 1:
                counts["repeats"] += 1
            _walk(sub, high > 1, counts)
        elif name == "BRANCH":
            if inside_repeat:
                raise ValueError("nested")
            for branch in arg[1]:
                _walk(branch, inside_repeat, counts)
        elif name == "SUBPATTERN":
            _walk(arg[-1], inside_repeat, counts)


def check_pattern(pattern: str) -> re.Pattern[str]:
    """A rule's pattern compiled (case-insensitive), or ValidationFailed saying why not."""
    refusal = {"pattern": [_(
        "Use a simple pattern of at most %(max)d characters: no nested repeats, "
        "back-references or look-arounds, at most two repeats and one of them open-ended.", max=MAX_PATTERN)]}
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN \
            or "\x00" in pattern:
        raise ValidationFailed(refusal)
    try:
        parsed = re._parser.parse(pattern, re.IGNORECASE)  # type: ignore[attr-defined]
        counts = {"unbounded": 0, "repeats": 0}
        _walk(parsed, False, counts)
        if counts["unbounded"] > 1 or counts["repeats"] > MAX_REPEATS:
            raise ValueError("too many repeats")
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, ValueError, RecursionError, OverflowError):
        raise ValidationFailed(refusal) from None


def check_keywords(text: str) -> list[str]:
    words = [w.strip().casefold() for w in (text or "").split(",") if w.strip()]
    if not words or len(text) > MAX_KEYWORDS or "\x00" in text:
        raise ValidationFailed({"keywords": [_(
            "List one or more keywords, separated by commas (at most %(max)d characters).",
            max=MAX_KEYWORDS)]})
    return words


@lru_cache(maxsize=256)
def _matcher(match: str, expression: str):
    """A rule's test, built once per expression; None for one that no longer passes
    the checks (it is skipped, never run)."""
    try:
        if match == "pattern":
            return check_pattern(expression).search
        words = check_keywords(expression)
    except ValidationFailed:
        return None
    return lambda text: any(word in text.casefold() for word in words)


@dataclass(frozen=True)
class TagRule:
    """An active auto-tag rule as each process keeps it (rule_cache.py)."""

    tag_id: int
    match: str
    expression: str
    field: str


def _load_rules() -> tuple[TagRule, ...]:
    columns = AutoTagRule.__table__.c
    rows = db.session.execute(select(columns.tag_id, columns.match, columns.expression,
                                     columns.field)
                              .where(columns.is_active.is_(True)).order_by(columns.id))
    return tuple(TagRule(*row) for row in rows)


# Read by every ticket that opens: each process keeps a copy.
rules: RuleCache[tuple[TagRule, ...]] = RuleCache(_load_rules, (AutoTagRule,),
                                                  "AUTO_TAG_CACHE_SECONDS")


def rule_matches(rule: AutoTagRule | TagRule, subject: str, first_message: str) -> bool:
    test = _matcher(rule.match, rule.expression)
    if test is None:
        return False
    texts = {"subject": [subject], "first_message": [first_message],
             "both": [subject, first_message]}.get(rule.field, [subject, first_message])
    return any(bool(test((text or "")[:SCANNED])) for text in texts)


def apply_rules(ticket: Ticket, origin: str) -> list[str]:
    """Inside `open_ticket`'s transaction: the active rules' tags for a new ticket."""
    tag_ids = {rule.tag_id for rule in rules.get()
               if rule_matches(rule, ticket.subject, ticket.description)}
    if not tag_ids:
        return []
    found = db.session.scalars(select(Tag).where(Tag.id.in_(tag_ids))).all()
    return attach(ticket, Actor.system(AUTO_TAGGER), found, origin)


# --------------------------------------------------------------------------- reports


def counts(start, end) -> list[tuple[str, int]]:
    """Tickets created in [start, end) per tag, most first (the dashboard's table)."""
    rows = db.session.execute(
        select(Tag.name, func.count(TicketTag.ticket_id))
        .join(TicketTag, TicketTag.tag_id == Tag.id)
        .join(Ticket, Ticket.id == TicketTag.ticket_id)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(Tag.id, Tag.name).order_by(func.count(TicketTag.ticket_id).desc(), Tag.name)
    ).all()
    return [(name, count) for name, count in rows]
