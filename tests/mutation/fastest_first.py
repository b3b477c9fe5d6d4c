"""pytest plugin for mutation runs (scripts/mutation.py loads it through PYTEST_PLUGINS):
run a mutant's tests fastest first, by the durations mutmut's stats run recorded, so
that under `-x` a mutant a quick test kills is not first run through the slow socket
tests. Test files stay together (their module fixtures, such as the live server, are
set up once), and the clean run mutmut does before the mutants uses the same order,
so a test that depended on running after another would fail there first."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

STATS = Path("mutmut-stats.json")  # mutmut runs the tests from its mutants/ folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not STATS.exists():
        return  # the stats run itself
    seconds = json.loads(STATS.read_text()).get("duration_by_test", {})

    def duration(item: pytest.Item) -> float:
        return seconds.get(item.nodeid, 0.0)

    def path(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    fastest: dict[str, float] = {}
    for item in items:
        fastest[path(item)] = min(fastest.get(path(item), duration(item)), duration(item))
    items.sort(key=lambda item: (fastest[path(item)], path(item), duration(item)))
