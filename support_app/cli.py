"""`flask --app wsgi support ...`: set up, add users, demo data, serve."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

support_cli = AppGroup("support", help="Set up and run the support desk.")


@support_cli.command("init")
@click.option("--email", default=None, help="Admin email (default admin@example.com).")
@click.option("--password", default=None, help="Admin password (generated and printed if omitted).")
@click.option("--name", default="Admin", show_default=True)
@with_appcontext
def init_command(email: str | None, password: str | None, name: str) -> None:
    """Migrate to head, seed roles and permissions and the default SLA calendar and
    policy, create the first admin. Safe to re-run."""
    from flask_migrate import upgrade

    from .bootstrap import ensure_admin, ensure_sla_defaults, sync_permissions

    upgrade()
    sync_permissions()
    ensure_sla_defaults()
    email, created, generated = ensure_admin(email, password, name)
    if generated:
        click.echo(f"Admin login: {email} / {generated}")
    elif created:
        click.echo(f"Admin login: {email} (password as given)")
    else:
        click.echo(f"Admin {email} already exists.")


@support_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", required=True)
@click.option("--role", default="Customer", show_default=True,
              type=click.Choice(["Admin", "Store Manager", "Fulfillment", "Support Agent", "Customer"]))
@click.option("--phone", default=None)
@click.option("--locale", default=None)
@click.option("--approved", is_flag=True, help="Support Agent only: approve at once.")
@with_appcontext
def create_user_command(email: str, password: str, name: str, role: str,
                        phone: str | None, locale: str | None, approved: bool) -> None:
    """Create a user of any role (customers also get their requester record)."""
    from .api.auth import check_new_account, create_user
    from .security import roles
    from .tickets import service
    from .tickets.actor import Actor
    from .tickets.errors import ValidationFailed

    if approved and role != roles.SUPPORT_AGENT:
        raise click.UsageError("--approved applies to --role 'Support Agent' only.")
    try:
        check_new_account(email, password)
        user = create_user(name, email, password, role, phone=phone, locale=locale)
    except ValidationFailed as err:
        for field, problems in err.errors.items():
            for problem in problems:
                click.echo(f"{field}: {problem}", err=True)
        raise SystemExit(1) from err
    click.echo(f"Created {role} {user.email} (id {user.id}).")
    if role != roles.SUPPORT_AGENT:
        return
    if approved:
        service.approve_agent(Actor.system("command line"), user.id)
        click.echo("Approved: the agent can take and work tickets now.")
    else:
        click.echo("Warning: this agent is not approved. They can sign in but see no tickets "
                   "until an admin approves them (Agents screen, or create them with --approved).",
                   err=True)


@support_cli.command("reset-password")
@click.option("--email", required=True, help="The account's email (any role).")
@click.option("--password", default=None, help="New password (generated and printed if omitted).")
@with_appcontext
def reset_password_command(email: str, password: str | None) -> None:
    """Set a new password for any account, e.g. a lost admin password."""
    from .security.passwords import generate_password, password_problem

    sm = current_app.appbuilder.sm
    user = sm.find_user(email=email.strip().lower())
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    problem = password and password_problem(password)
    if problem:
        raise click.ClickException(problem)
    new_password = password or generate_password()
    sm.reset_password(user.id, new_password)
    if password:
        click.echo(f"Password of {user.email} changed.")
    else:
        click.echo(f"New login: {user.email} / {new_password}")


@support_cli.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Fill the desk with a month of customers, orders, rides, bookings, tickets and FAQs
    (refused when SUPPORT_ENV=production; safe to re-run)."""
    from .demo import DemoRefused, seed_demo

    try:
        report = seed_demo()
    except DemoRefused as err:
        raise click.ClickException(str(err)) from err
    created = ", ".join(f"{number} {kind}" for kind, number in report.created.items())
    click.echo(f"Demo data: {created or 'nothing new (already seeded)'}.")
    if report.logins:
        click.echo("Demo logins (shown once; `support reset-password --email E` sets a new one):")
        for role, email, password in report.logins:
            click.echo(f"  {role:<14} {email} / {password}")


@support_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve HTTP and Socket.IO from one process (embedded mode)."""
    import os

    from .extensions import socketio
    from .ops.request_log import RequestHandler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Flask's CLI refuses app.run() from inside a command; this command *is* the server.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    click.echo(f"Serving on http://{host}:{port}")
    socketio.run(app, host=host, port=port, debug=False, use_reloader=False,
                 allow_unsafe_werkzeug=True, log_output=False, request_handler=RequestHandler)


@support_cli.command("i18n-check")
@click.option("--show-missing", is_flag=True, help="List the untranslated messages.")
def i18n_check_command(show_missing: bool) -> None:
    """Per shipped language: translated, fuzzy, missing; fail if incomplete or .mo stale."""
    from .catalogs import check_all

    failed = False
    for report in check_all():
        state = "ok" if report.complete else "INCOMPLETE"
        click.echo(
            f"{report.name}: {report.translated}/{report.total} translated, "
            f"{report.fuzzy} fuzzy, {len(report.missing)} missing"
            f"{', compiled catalog stale' if report.stale_mo else ''} [{state}]"
        )
        if show_missing:
            for msgid in report.missing:
                click.echo(f"    - {msgid!r}")
        failed = failed or not report.complete
    if failed:
        raise SystemExit(1)


@support_cli.command("i18n-fab-template")
def i18n_fab_template_command() -> None:
    """Write translations/flask_appbuilder/messages.pot from the installed FAB's strings."""
    from .catalogs import FAB_TRANSLATIONS, write_fab_template

    count = write_fab_template()
    click.echo(f"{count} messages in {FAB_TRANSLATIONS / 'messages.pot'}")


@support_cli.command("recount")
@with_appcontext
def recount_command() -> None:
    """Rebuild the desk-wide ticket counters from the tickets table (after bulk loads)."""
    from .tickets.counters import recount

    for name, value in sorted(recount().items()):
        click.echo(f"{name}: {value}")
