"""Every module the mutation runs must cover (issue 28: tickets/, security/, inbound/,
realtime/rooms.py, api/errors.py, and webhooks/ as it landed) is mutated by some target of `scripts/mutation.py`,
so a module added later cannot stay out of the report unseen."""
from __future__ import annotations

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
    owners = {module: [t.name for t in targets if any(fnmatch.fnmatch(module, g) for g in t.mutate)]
              for module in modules}
    assert {m: o for m, o in owners.items() if len(o) != 1} == {}


def test_every_targets_tests_exist():
    missing = [(t.name, test) for t in _targets() for test in t.tests
               if not (ROOT / test).is_file()]
    assert missing == []
