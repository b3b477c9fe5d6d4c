"""Desk rules every ticket write reads (SLA policies and calendars, auto-tag rules,
the active webhook endpoints), kept by each process for a few seconds instead of
queried on every write.

A change committed in this process drops its copy at once (the session notes which
rule tables it wrote before the flush, and the copies go after the commit); other
processes see the change within the cache's time to live, a config setting.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")
_CHANGED = "rule_cache_changed"
_caches: list["RuleCache[Any]"] = []


class RuleCache(Generic[T]):
    """`get()` answers the copy `load()` made, reloaded when older than the config's
    `ttl_setting` seconds or after this process committed a change to `models`."""

    def __init__(self, load: Callable[[], T], models: tuple[type, ...], ttl_setting: str) -> None:
        self._load, self.models, self._ttl_setting = load, models, ttl_setting
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = 0.0
        _caches.append(self)

    def get(self) -> T:
        value, ttl = self._value, current_app.config[self._ttl_setting]
        if value is None or time.monotonic() - self._loaded > ttl:
            with self._lock:  # one thread reloads; the others then take its copy
                value = self._value
                if value is None or time.monotonic() - self._loaded > ttl:
                    value = self._value = self._load()
                    self._loaded = time.monotonic()
        return value

    def clear(self) -> None:
        self._value = None


def clear_all() -> None:
    """Drop every copy (tests that empty the tables between them)."""
    for cache in _caches:
        cache.clear()


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    written = (*session.new, *session.dirty, *session.deleted)
    changed = {id(cache) for cache in _caches
               if any(isinstance(obj, cache.models) for obj in written)}
    if changed:  # a rolled-back change leaves its mark: the next commit reloads, harmless
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _drop_on_commit(session: Session) -> None:
    changed = session.info.pop(_CHANGED, set())
    for cache in _caches:
        if id(cache) in changed:
            cache.clear()

