"""The README says what is true: its code fences close, and every Socket.IO event, route
and command it names exists (events from the package's source, routes from the app's URL
map, commands and their options from the CLI)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

import support_app
from support_app.cli import support_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
METHODS = "GET|POST|PUT|PATCH|DELETE"
ROUTE = re.compile(rf"`((?:{METHODS})(?:[|/](?:{METHODS}))*) (/[^`\s]*)`")
BARE_PATH = re.compile(r"`(/[A-Za-z0-9_.{}<>:/-]*)`")
CURL_URL = re.compile(r"(?:https?://)?(?:localhost|127\.0\.0\.1)(?::\d+)?(/[^\s\"'\\]*)")
EVENT = re.compile(r"^support:[a-z_]+(?::[a-z_]+)*$")
COMMAND = re.compile(r"\bsupport ([a-z][a-z0-9-]*)")


def code_blocks() -> tuple[list[str], list[str]]:
    """(text lines outside fences, lines inside them); fails on an unclosed fence."""
    prose, code, opened = [], [], None
    for number, line in enumerate(README.splitlines(), 1):
        fence = FENCE.match(line)
        if opened is None and fence:
            opened = (number, fence.group(2))
        elif opened is not None and fence and fence.group(2).startswith(opened[1]) \
                and not fence.group(3).strip():
            opened = None
        elif opened is not None:
            code.append(line)
        else:
            prose.append(line)
    assert opened is None, f"README line {opened[0]}: code fence never closed"
    return prose, code


def spans(lines: list[str]) -> list[str]:
    return re.findall(r"`([^`\n]+)`", "\n".join(lines))


def test_fences_are_balanced_and_no_heading_is_swallowed():
    _prose, code = code_blocks()
    assert not [line for line in code if re.match(r"^#{1,6} [A-Z]", line)], \
        "a Markdown heading inside a code block: a fence before it is not closed"


def _known_events() -> set[str]:
    """Every string literal in the package shaped like an event name."""
    names = set()
    for path in Path(support_app.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and EVENT.match(node.value):
                names.add(node.value)
    return names


def _named_events() -> set[str]:
    """`support:a:b` spans, and the README's shorthand `support:a:b` / `:c` (= support:a:c)."""
    named = set()
    for line in code_blocks()[0]:
        last = None
        for span in re.findall(r"`([^`]+)`", line):
            if EVENT.match(span):
                named.add(span)
                last = span
            elif last and re.fullmatch(r":[a-z_]+", span):
                named.add(last.rsplit(":", 1)[0] + span)
    return named


def test_every_event_the_readme_names_is_emitted():
    named, known = _named_events(), _known_events()
    assert "support:navbar:count" in named
    assert named - known == set(), f"README names events the code never emits: {named - known}"


def _sample(path: str) -> str:
    """A concrete URL for a documented path: placeholders filled, query left out."""
    path = re.split(r"\[?\?", path, maxsplit=1)[0]
    return re.sub(r"\{[^}]*\}|<[^>]*>", "1", path)


def _documented_routes() -> set[tuple[tuple[str, ...], str]]:
    prose, code = code_blocks()
    routes = {(tuple(re.split(r"[|/]", methods)), _sample(path))
              for methods, path in ROUTE.findall("\n".join(prose))}
    routes |= {((), _sample(path)) for line in code for path in CURL_URL.findall(line)}
    return routes


def _bare_paths(app) -> set[str]:
    """Backticked paths without a method, when their first segment is one the app serves
    (so `/usr/bin/chromium` or `/socket.io/`, which Engine.IO serves, are not routes)."""
    served = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    paths = set()
    for span in spans(code_blocks()[0]):
        if BARE_PATH.fullmatch(f"`{span}`") and span.split("/")[1] in served:
            paths.add(_sample(span))
    return paths


def _matches(adapter, path: str, methods: tuple[str, ...]) -> bool:
    for method in methods or ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            if methods:
                return False
            continue
        if not methods:
            return True
    return bool(methods)


def test_every_route_the_readme_names_exists(app):
    adapter = app.url_map.bind("localhost")
    documented = _documented_routes()
    assert len(documented) > 40  # the extraction still finds the API tables
    missing = sorted(f"{'|'.join(methods) or 'ANY'} {path}" for methods, path in documented
                     if not _matches(adapter, path, methods))
    assert not missing, f"README routes the app does not serve: {missing}"


def test_every_bare_path_the_readme_names_exists(app):
    adapter = app.url_map.bind("localhost")
    rules = [rule.rule for rule in app.url_map.iter_rules()]
    paths = _bare_paths(app)
    assert {"/login/", "/api/docs"} <= paths
    missing = sorted(p for p in paths if not _matches(adapter, p, ())
                     and not any(rule.startswith(p) for rule in rules))  # a prefix: `/api/`
    assert not missing, f"README paths the app does not serve: {missing}"


def _command_table() -> list[str]:
    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return [row.split("|")[1].strip().strip("`") for row in section.splitlines()
            if row.startswith("| `")]


@pytest.mark.parametrize("usage", _command_table())
def test_every_command_in_the_table_exists_with_its_options(usage):
    name, *words = usage.split()
    command = support_cli.commands.get(name)
    assert command is not None, f"README lists `{name}`, the CLI has no such command"
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in words:
        for option in re.findall(r"--[a-z][a-z-]*", word):
            assert option in options, f"`{name}` has no option {option}"


def test_every_support_command_the_readme_mentions_exists():
    prose, code = code_blocks()
    mentioned = {name for text in (*spans(prose), *code) for name in COMMAND.findall(text)}
    assert {"init", "seed-demo", "reset-password"} <= mentioned
    assert mentioned - set(support_cli.commands) == set()
