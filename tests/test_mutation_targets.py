"""Every module the mutation runs must cover (issue 28: tickets/, security/, inbound/,
realtime/rooms.py, api/errors.py, and webhooks/ as it landed) is mutated by some target of `scripts/mutation.py`,
so a module added later cannot stay out of the report unseen."""
from __future__ import annotations

import ast
import fnmatch
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COVERED = ("support_app/tickets/*.py", "support_app/security/*.py", "support_app/inbound/*.py",
           "support_app/realtime/rooms.py", "support_app/api/errors.py",
           "support_app/webhooks/*.py")


def _targets():
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.TARGETS


def test_every_listed_module_is_in_exactly_one_target():
    targets = _targets()
    modules = sorted({str(path.relative_to(ROOT)) for glob in COVERED
                      for path in ROOT.glob(glob) if path.name != "__init__.py"})
    assert len(modules) > 30
    owners = {module: [t for t in targets if any(fnmatch.fnmatch(module, g) for g in t.mutate)]
              for module in modules}
    whole = {m: [t.name for t in o] for m, o in owners.items()
             if len(o) != 1 and not all(t.functions for t in o)}
    assert whole == {}


def test_a_split_module_has_each_function_in_exactly_one_part():
    """A module too big for one run is split by its top-level functions and classes:
    a function added later must land in exactly one part, or its mutants go unrun."""
    split = {}
    for target in _targets():
        if target.functions:
            assert len(target.mutate) == 1, target.name
            split.setdefault(target.mutate[0], []).extend(target.functions)
    assert split, "service.py is split by its functions"
    for module, parts in split.items():
        tree = ast.parse((ROOT / module).read_text())
        defined = sorted(node.name for node in tree.body if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
        assert sorted(parts) == defined, module


def test_a_parts_mutant_names_map_to_its_functions():
    targets = {t.name: t for t in _targets()}
    parts = [t for t in targets.values() if t.name.startswith("tickets-service-")]
    helpers, opening = targets["tickets-service-helpers"], targets["tickets-service-opening"]
    thread, assignment = targets["tickets-service-thread"], targets["tickets-service-assignment"]
    for mutant, owner in (("support_app.tickets.service.x_open_ticket__mutmut_3", opening),
                          ("support_app.tickets.service.x__commit__mutmut_12", helpers),
                          ("support_app.tickets.service.xǁOutcomeǁ__init____mutmut_1", helpers),
                          ("support_app.tickets.service.x_add_message__mutmut_1", thread),
                          ("support_app.tickets.service.x__assign__mutmut_2", assignment),
                          ("support_app.tickets.service.x_escalate__mutmut_7",
                           targets["tickets-service-changes"])):
        assert [part for part in parts if part.owns(mutant)] == [owner]
        assert [part for part in parts
                if any(fnmatch.fnmatch(mutant, g) for g in part.globs())] == [owner]


def test_every_targets_tests_exist():
    missing = [(t.name, test) for t in _targets() for test in t.tests
               if not (ROOT / test).is_file()]
    assert missing == []
