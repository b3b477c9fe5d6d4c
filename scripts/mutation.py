"""Mutation testing, one target at a time: `scripts/mutation.sh [target ...]`, then
`scripts/mutation.sh survivors target ...` to re-test what survived once tests are added.

mutmut 3 copies the code into `mutants/` and runs the tests from there. Each target
runs in its own folder, build/mutation/<target>/, which links the project's files and
adds the target's `only_mutate` and test files to the shared [mutmut] settings of
setup.cfg: the stats phase then runs those tests only, and each mutant the tests among
them that reach the mutated function. The folders keep mutmut's results, so a re-run
tests only what changed. After each target the report, tests/mutation/REPORT.md, is
rewritten from every target's results and tests/mutation/equivalent.txt.
"""
from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mutation"
REPORT = ROOT / "tests" / "mutation" / "REPORT.md"
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.txt"
# README.md: tests check that what it documents exists (test_webhooks reads it).
LINKED = ("support_app", "tests", "templates", "translations", "migrations", "babel.cfg",
          "README.md")
MUTMUT = str(Path(sys.executable).with_name("mutmut"))


@dataclass(frozen=True)
class Target:
    name: str
    mutate: tuple[str, ...]  # globs of files mutated
    tests: tuple[str, ...]   # the test files that may kill them
    note: str = ""
    # --noconftest for tests of pure functions: without the conftest's app (seconds to
    # build in every mutant's process) a mutant costs a fraction of a second.
    pytest_args: tuple[str, ...] = ()
    # Each mutant's tests copy a database migrated and seeded once per run (the
    # conftest's SUPPORT_TEST_DB_TEMPLATE) instead of seeding their own: False for a
    # target whose code the seeding runs (roles, the security manager).
    seeded_copy: bool = True
    # A module too big for one run under an hour is split between targets by its
    # top-level functions and classes (tests/test_mutation_targets.py checks that the
    # parts cover each one exactly once); empty = all of it.
    functions: tuple[str, ...] = ()

    def owns(self, mutant: str) -> bool:
        """Whether a mutant of the mutated files is this target's (its function's)."""
        return not self.functions or _function_of(mutant) in self.functions

    def globs(self) -> list[str]:
        """mutmut's name patterns for the target's functions (methods: `xǁClassǁname`)."""
        module = self.mutate[0].removesuffix(".py").replace("/", ".")
        return [pattern for name in self.functions
                for pattern in (f"{module}.x_{name}__mutmut_*", f"{module}.xǁ{name}ǁ*")]


def _function_of(mutant: str) -> str:
    """support_app.tickets.service.x_open_ticket__mutmut_3 -> open_ticket;
    ...service.xǁOutcomeǁ__init____mutmut_1 -> Outcome"""
    tail = re.split(r"\.x(?=[_ǁ])", mutant, maxsplit=1)[1]
    if tail.startswith("ǁ"):
        return tail.split("ǁ")[1]
    return tail[1:].rsplit("__mutmut_", 1)[0]


SERVICE = "support_app/tickets/service.py"
SERVICE_TESTS = ("tests/test_service.py", "tests/test_assignment.py",
                 "tests/test_api_support_tickets.py", "tests/test_api_mtxi.py",
                 "tests/test_api_munch.py", "tests/test_api_agent_desk.py",
                 "tests/test_writer_turn.py", "tests/test_service_mutants.py",
                 "tests/test_service_changes.py", "tests/test_service_assignment.py",
                 "tests/test_sla_clock.py")
# service.py by its functions: the helpers every change goes through ...
SERVICE_HELPERS = ("Outcome", "_transaction", "_commit", "new_ticket_number",
                   "_participant_users", "_snapshot", "_publish", "_audit",
                   "_ticket_statement", "get_ticket", "_require_staff_work", "_clean_text",
                   "_reference")
# ... opening a ticket ...
SERVICE_OPENING = ("open_ticket",)
# ... the thread (replies, notes, read marks) ...
SERVICE_THREAD = ("_reply_update", "add_message", "mark_ticket_read", "mark_message_read",
                  "add_note")
# ... status, priority, closing, escalation and feedback ...
SERVICE_CHANGES = ("update_ticket", "_apply_status", "change_priority",
                   "_reapply_sla", "_acting_role", "close_ticket", "escalate",
                   "raise_escalation", "submit_feedback")
# ... and who works it (and the orders the desk cancels).
SERVICE_ASSIGNMENT = ("_approved_agent", "assign_self", "reassign", "_assign",
                      "approve_agent", "cancel_order")


# In the order they are run (the big tickets/ targets last).
TARGETS = (
    Target("tickets-lifecycle", ("support_app/tickets/lifecycle.py",),
           ("tests/test_lifecycle.py", "tests/test_lifecycle_edges.py"),
           pytest_args=("--noconftest",)),
    Target("tickets-policy", ("support_app/tickets/policy.py",),
           ("tests/test_policy_rules.py", "tests/test_policy_participants.py",
            "tests/test_internal_notes_audience.py",
            "tests/test_service.py", "tests/test_authorization_matrix.py")),
    Target("tickets-events", ("support_app/tickets/events.py",),
           ("tests/test_events_rollback.py", "tests/test_events_publisher.py",
            "tests/test_service.py")),
    Target("realtime-rooms", ("support_app/realtime/rooms.py",),
           ("tests/test_rooms_audience.py", "tests/test_realtime.py",
            "tests/test_realtime_subscriptions.py",
            "tests/test_internal_notes_audience.py", "tests/test_policy_participants.py")),
    Target("api-errors", ("support_app/api/errors.py",),
           ("tests/test_api_error_dispatch.py", "tests/test_bad_input.py",
            "tests/test_faults.py", "tests/test_api_agent_desk.py",
            "tests/test_api_munch.py", "tests/test_request_logs.py")),
    # security/ in four parts, each with its modules' tests, so that each finishes in
    # one sitting.
    Target("security-tokens", ("support_app/security/tokens.py",),
           ("tests/test_token_lifecycle.py", "tests/test_security_sessions.py",
            "tests/test_foundation.py", "tests/test_login_limits.py",
            "tests/test_redteam_reused_user_id.py", "tests/test_tokens_mutants.py")),
    # current.py is reached by every API test: its own target, so tokens.py's survivors
    # do not re-run all of them; the authorization matrix stands for the surfaces (every
    # route, every role), so a surviving mutant does not re-run each surface's file.
    Target("security-current", ("support_app/security/current.py",),
           ("tests/test_tokens_mutants.py", "tests/test_foundation.py",
            "tests/test_authorization_matrix.py", "tests/test_security_sessions.py",
            "tests/test_api_support_tickets.py")),
    Target("security-ownership", ("support_app/security/email_ownership.py",
                                  "support_app/security/account_claim.py"),
           ("tests/test_email_ownership.py", "tests/test_confirm_email_codes.py",
            "tests/test_account_claim.py", "tests/test_redteam_preregistration.py",
            "tests/test_ownership_mutants.py")),
    Target("security-roles", ("support_app/security/roles.py", "support_app/security/manager.py",
                              "support_app/security/passwords.py"),
           ("tests/test_admin_permissions.py", "tests/test_foundation.py",
            "tests/test_security_sessions.py", "tests/test_login_limits.py",
            "tests/test_roles_mutants.py"),
           seeded_copy=False),
    Target("security-links", ("support_app/security/survey_links.py",
                              "support_app/security/file_links.py"),
           ("tests/test_csat.py", "tests/test_file_links.py", "tests/test_outbound_email_files.py")),
    # inbound/ in two parts: the webhook's door (signature, intake), then the mail itself.
    Target("inbound-webhook", tuple(f"support_app/inbound/{name}.py" for name in (
        "webhook", "signature", "intake")),
           ("tests/test_inbound_webhook.py", "tests/test_inbound_signature_edges.py",
            "tests/test_inbound_concurrency.py", "tests/test_inbound_webhook_mutants.py")),
    Target("inbound-mail", tuple(f"support_app/inbound/{name}.py" for name in (
        "parse", "threading", "attachments", "sender_auth")),
           ("tests/test_inbound_message_id.py", "tests/test_inbound_sender_auth.py",
            "tests/test_inbound_webhook.py", "tests/test_redteam_inbound_input.py",
            "tests/test_redteam_reply_address.py", "tests/test_attachments.py",
            "tests/test_inbound_threading_mutants.py", "tests/test_inbound_parse_mutants.py")),
    # webhooks/ (issue 28: "webhooks' signing"): the signature and the SSRF guard, then
    # the sender and the endpoint cache.
    Target("webhooks-signing", tuple(f"support_app/webhooks/{name}.py" for name in (
        "signing", "guard")),
           ("tests/test_webhooks.py", "tests/test_webhooks_admin.py",
            "tests/test_webhooks_guard_mutants.py")),
    Target("webhooks-delivery", tuple(f"support_app/webhooks/{name}.py" for name in (
        "delivery", "endpoints")),
           ("tests/test_webhooks.py", "tests/test_webhooks_admin.py",
            "tests/test_webhook_sending.py")),
    Target("tickets-tags-macros", ("support_app/tickets/tags.py", "support_app/tickets/macros.py"),
           ("tests/test_tags.py", "tests/test_macros.py", "tests/test_tags_macros_mutants.py")),
    # The capabilities that landed with issues 22-26, one target each.
    Target("tickets-sla", tuple(f"support_app/tickets/{name}.py" for name in (
        "business_time", "sla")),
           ("tests/test_business_time.py", "tests/test_sla_clock.py", "tests/test_api_sla.py",
            "tests/test_sla_checks.py", "tests/test_sla_mutants.py",
            "tests/test_sla_mutants_2.py")),
    Target("tickets-sla-checks", tuple(f"support_app/tickets/{name}.py" for name in (
        "sla_checks", "rule_cache")),
           ("tests/test_sla_checks.py", "tests/test_tags.py", "tests/test_sla_clock.py",
            "tests/test_sla_checks_mutants.py")),
    Target("tickets-merge-groups", tuple(f"support_app/tickets/{name}.py" for name in (
        "merge", "groups")),
           ("tests/test_merge.py", "tests/test_group_members.py",
            "tests/test_policy_participants.py", "tests/test_merge_groups_mutants.py")),
    Target("tickets-feedback", ("support_app/tickets/feedback.py",),
           ("tests/test_csat.py", "tests/test_api_agent_desk.py", "tests/test_service.py",
            "tests/test_survey_feedback.py", "tests/test_feedback_mutants.py")),
    Target("tickets-files-verification", tuple(f"support_app/tickets/{name}.py" for name in (
        "attachments", "verification")),
           ("tests/test_attachments.py", "tests/test_attachments_surfaces.py",
            "tests/test_staff_markers.py", "tests/test_inbound_sender_auth.py",
            "tests/test_files_verification_mutants.py")),
    Target("tickets-rest", tuple(f"support_app/tickets/{name}.py" for name in (
        "actor", "assignment", "badges", "counters", "errors", "gamification", "queries")),
           ("tests/test_service.py", "tests/test_assignment.py", "tests/test_api_mtxi.py",
            "tests/test_api_agent_desk.py", "tests/test_notifications.py",
            "tests/test_merge.py", "tests/test_inbound_threading_mutants.py",
            "tests/test_admin_tickets.py", "tests/test_api_support_tickets.py",
            "tests/test_inbound_sender_auth.py", "tests/test_tickets_rest_mutants.py")),
    Target("tickets-service-helpers", (SERVICE,), SERVICE_TESTS, functions=SERVICE_HELPERS),
    Target("tickets-service-opening", (SERVICE,), SERVICE_TESTS, functions=SERVICE_OPENING),
    Target("tickets-service-thread", (SERVICE,), SERVICE_TESTS, functions=SERVICE_THREAD),
    Target("tickets-service-changes", (SERVICE,), SERVICE_TESTS, functions=SERVICE_CHANGES),
    Target("tickets-service-assignment", (SERVICE,), SERVICE_TESTS,
           functions=SERVICE_ASSIGNMENT),
)
BY_NAME = {target.name: target for target in TARGETS}


def workdir(target: Target) -> Path:
    """build/mutation/<target>/: links to the project, and a setup.cfg for this target."""
    folder = BUILD / target.name
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg")
    config["mutmut"]["only_mutate"] = "\n" + "\n".join(target.mutate)
    config["mutmut"]["pytest_add_cli_args_test_selection"] = "\n" + "\n".join(target.tests)
    config["mutmut"]["pytest_add_cli_args"] += "".join(f"\n{arg}" for arg in target.pytest_args)
    with open(folder / "setup.cfg", "w") as handle:
        config.write(handle)
    return folder


SEED = """
import sys
from support_app import create_app
from support_app.config import TestConfig
from tests.conftest import migrate_and_seed
migrate_and_seed(create_app(TestConfig("sqlite:///" + sys.argv[1])))
"""


def seeded_database(folder: Path, env: dict[str, str]) -> Path:
    """A SQLite database migrated and seeded by the project's own (unmutated) code."""
    path = folder / "tmp" / "seeded.db"
    for stale in folder.glob("tmp/seeded.db*"):
        stale.unlink()
    subprocess.run([sys.executable, "-c", SEED, str(path)], cwd=ROOT, check=True,
                   env={**env, "SUPPORT_INSTANCE_PATH": str(folder / "tmp" / "instance")},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def run(target: Target, mutants: list[str] | None = None) -> None:
    """Every mutant of the target not tested yet, or re-test the `mutants` named."""
    full = mutants is None
    if full and target.functions:
        # mutmut re-tests every mutant a pattern names: after a stopped run, name only
        # the part's mutants not checked yet.
        stored = results(target)
        mutants = [m for m, s in stored.items() if s == "not checked"] if stored else target.globs()
        if not mutants:
            return
    folder = workdir(target)
    env = {**os.environ, "TMPDIR": str(folder / "tmp")}
    (folder / "tmp").mkdir(exist_ok=True)
    # Through the environment: a change of setup.cfg's pytest arguments makes mutmut
    # discard every stored result.
    env["PYTEST_PLUGINS"] = "tests.mutation.fastest_first"
    env.pop("SUPPORT_TEST_DB_TEMPLATE", None)
    if target.seeded_copy:
        env["SUPPORT_TEST_DB_TEMPLATE"] = str(seeded_database(folder, env))
    children = os.environ.get("MUTATION_CHILDREN", "2")
    started = time.monotonic()
    subprocess.run([MUTMUT, "run", "--max-children", children, *(mutants or ())], cwd=folder,
                   env=env, check=False)
    if full:
        (folder / "minutes").write_text(f"{(time.monotonic() - started) / 60:.0f}\n")


def minutes(target: Target) -> str:
    """How long the target's last run took (a re-run only tests what changed)."""
    path = BUILD / target.name / "minutes"
    return path.read_text().strip() if path.exists() else ""


def results(target: Target) -> dict[str, str]:
    """mutant name -> mutmut status, from the target's stored results."""
    folder = BUILD / target.name
    if not (folder / "mutants").is_dir():
        return {}
    out = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=folder, text=True,
                         capture_output=True, check=True).stdout
    return {mutant: status for mutant, status in re.findall(r"^\s+(\S+): (.+)$", out, flags=re.M)
            if target.owns(mutant)}


def diff(target: Target, mutant: str) -> str:
    out = subprocess.run([MUTMUT, "show", mutant], cwd=BUILD / target.name, text=True,
                         capture_output=True, check=True).stdout
    changed = [line for line in out.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return " / ".join(f"{line[0]} {line[1:].strip()}" for line in changed)


def equivalents() -> dict[str, str]:
    """tests/mutation/equivalent.txt: `mutant name: why no test can tell it apart`."""
    if not EQUIVALENT.exists():
        return {}
    pairs = (line.split(":", 1) for line in EQUIVALENT.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {name.strip(): reason.strip() for name, reason in pairs}


def surviving(target: Target) -> list[str]:
    """Mutants neither killed nor recorded as equivalent."""
    why = equivalents()
    return sorted(m for m, s in results(target).items()
                  if s not in ("killed", "timeout", "not checked") and m not in why)


# A fresh checkout has no build/ results: `survivors` then re-tests the committed report's
# open mutants of the target (their source unchanged since that run: each one's diff must
# match the report's) and its row is the report's row with their new outcomes.
RETEST = "retest-of-report.json"


def _reported_open(line: str) -> bool:
    return line.split("|")[2].strip() != "equivalent"


def _changed_since_report(target: Target) -> bool:
    """Has a mutated file changed since the commit that last wrote the target's row?"""
    git = ["git", "-C", str(ROOT)]
    written = subprocess.run([*git, "log", "-1", "--format=%H", f"-G^\\| {target.name} \\|",
                              "--", str(REPORT.relative_to(ROOT))],
                             text=True, capture_output=True, check=True).stdout.strip()
    changed = subprocess.run([*git, "diff", "--quiet", written, "--", *target.mutate])
    return not written or changed.returncode != 0


def retest_from_report(target: Target) -> list[str]:
    """Keep the target's committed row and lines in its folder; the open mutants' names."""
    row, lines = earlier(target)
    if row is None:
        return []
    if _changed_since_report(target):
        print(f"{target.name}: its code changed since the report's run: run the whole target",
              file=sys.stderr)
        return []
    folder = workdir(target)
    (folder / RETEST).write_text(json.dumps({"row": row, "lines": lines}))
    return [line.split("`")[1] for line in lines if _reported_open(line)]


def merged_row(target: Target, statuses: dict[str, str]) -> tuple[str, list[str]]:
    """The committed row and lines, with the re-tested mutants' outcomes."""
    kept = json.loads((BUILD / target.name / RETEST).read_text())
    cells = [cell.strip() for cell in kept["row"].strip("|").split("|")]
    total, killed, equivalent, open_, unchecked = (int(cells[i] or 0) for i in range(1, 6))
    why, details = equivalents(), []
    for line in kept["lines"]:
        mutant = line.split("`")[1]
        status = statuses.get(mutant, "not checked")
        if not _reported_open(line) or status == "not checked":
            details.append(line)
            continue
        if diff(target, mutant) != line.split("`")[3]:
            print(f"{mutant}: not the mutant the report lists (its source changed): "
                  "run the whole target", file=sys.stderr)
            details.append(line)
        elif status in ("killed", "timeout"):
            killed, open_ = killed + 1, open_ - 1
        elif mutant in why:
            equivalent, open_ = equivalent + 1, open_ - 1
            details.append(f"| `{mutant}` | equivalent | `{diff(target, mutant)}` | {why[mutant]} |")
        else:
            details.append(f"| `{mutant}` | {status} | `{diff(target, mutant)}` | |")
    judged = total - equivalent - unchecked
    score = f"{100 * killed / judged:.1f}%" if judged else "n/a"
    note = "; ".join(filter(None, (target.note, "survivors of the last full run re-tested")))
    return (f"| {target.name} | {total} | {killed} | {equivalent} | {open_} | {unchecked} | "
            f"{score} | {cells[7]} | {note} |"), details


def _mutated_file(mutant: str) -> str:
    """support_app.tickets.policy.x_can_view__mutmut_3 -> support_app/tickets/policy.py"""
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0].replace(".", "/") + ".py"


def earlier(target: Target) -> tuple[str | None, list[str]]:
    """The target's row and mutant lines in the committed report, for a target whose
    results are not in this checkout's build/ (run in another worktree): kept, not
    erased."""
    if not REPORT.exists():
        return None, []
    lines = REPORT.read_text().splitlines()
    row = next((line for line in lines if line.startswith(f"| {target.name} |")), None)
    if row is None or "| not run |" in row:
        return None, []
    mutants = [line for line in lines if line.startswith("| `") and any(
        fnmatch.fnmatch(_mutated_file(line.split("`")[1]), glob) for glob in target.mutate)
        and target.owns(line.split("`")[1])]
    return row, mutants


def report() -> None:
    why = equivalents()
    rows, details = [], []
    for target in TARGETS:
        statuses = results(target)
        if not statuses:
            row, mutants = earlier(target)
            rows.append(row or f"| {target.name} | not run | | | | | | | {target.note} |")
            details += mutants
            continue
        if (BUILD / target.name / RETEST).exists():
            row, mutants = merged_row(target, statuses)
            rows.append(row)
            details += mutants
            continue
        killed = sum(s in ("killed", "timeout") for s in statuses.values())
        unchecked = sum(s == "not checked" for s in statuses.values())
        equivalent = [m for m, s in statuses.items()
                      if s not in ("killed", "not checked") and m in why]
        open_ = surviving(target)
        judged = len(statuses) - len(equivalent) - unchecked
        score = f"{100 * killed / judged:.1f}%" if judged else "n/a"
        rows.append(f"| {target.name} | {len(statuses)} | {killed} | {len(equivalent)} | "
                    f"{len(open_)} | {unchecked} | {score} | {minutes(target)} | {target.note} |")
        for mutant in sorted(open_):
            details.append(f"| `{mutant}` | {statuses[mutant]} | `{diff(target, mutant)}` | |")
        for mutant in sorted(equivalent):
            details.append(f"| `{mutant}` | equivalent | `{diff(target, mutant)}` | {why[mutant]} |")
    REPORT.write_text("\n".join([
        "# Mutation testing report",
        "",
        "Written by `scripts/mutation.sh` (mutmut 3) from build/mutation/*/; see the README's",
        "\"Mutation testing\" section. Score = killed (or timed out) / (mutants checked -",
        "equivalent); \"not checked\" = a run stopped before reaching them;",
        "minutes = wall time of the target's last run, niced on the shared 2-core machine.",
        "A target not run in this checkout keeps its row and mutants from the report before.",
        "",
        "| target | mutants | killed | equivalent | surviving | not checked | score | minutes | note |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Surviving and equivalent mutants",
        "",
        "| mutant | status | change | why it is equivalent |",
        "|---|---|---|---|",
        *details,
        "",
    ]))


def main(names: list[str]) -> int:
    """`[target ...]`, `report`, or `survivors target ...`: re-test the surviving mutants
    of those targets (after writing the tests that should kill them)."""
    retry = names[:1] == ["survivors"]
    names = names[1:] if retry else names
    unknown = [name for name in names if name not in BY_NAME and name != "report"]
    if unknown or (retry and not names):
        print(f"unknown target(s) {unknown}; one of: {', '.join(BY_NAME)}, report",
              file=sys.stderr)
        return 2
    for name in names or list(BY_NAME):
        if name == "report":
            pass
        elif retry:
            target = BY_NAME[name]
            mutants = surviving(target) if results(target) else retest_from_report(target)
            # Stats again: which tests reach which function, with the tests added since
            # and the tests this environment runs (PostgreSQL's own are skipped on SQLite).
            (BUILD / target.name / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
            if mutants:
                run(target, mutants)
        else:
            run(BY_NAME[name])
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
