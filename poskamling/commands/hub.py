"""`poskamling hub`: run the hub, and move its event log (export, import, migrate, backup, restore);
`poskamling token new`: an API bearer token for its config."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.accounts.auth import ROLES, new_token
from hub.alerting.sql_store import SqlAlertRepository, migrate_alert_files
from hub.process import HubProcess
from hub.service import HubService
from hub.storage.events import TinyEventStore
from hub.storage.sql.audit import SqlAuditLog, migrate_audit_file
from hub.storage.sql.database import Database, StoreDamaged, StoreUnavailable
from hub.storage.sql.events import SqlEventStore
from hub.storage.sql.transfer import backup, describe, export_events, import_events, migrate_tinydb, open_text, restore
from hub.web.app import create_app
from hub.web.server import WebServer
from kamling.runtime import ServiceRuntime, serve
from kamling.sdnotify import SdNotifier, watchdog_interval
from poskamling.commands.common import ConfigOption, fail, setup_logging
from poskamling.commands.hub_config import hub_settings

token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
hub_app = typer.Typer(help="The hub at the police sector: run it, or move its event log in and out.")
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")
TimeOption = Annotated[datetime | None, typer.Option(help="ISO-8601 time with a timezone, on the hub's receive time")]


@hub_app.callback(invoke_without_command=True)
def hub(ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG, verbose: bool = False) -> None:
    """Run the hub: MQTT ingest, event log, alerts and the web API."""
    if ctx.invoked_subcommand is not None:
        return
    setup_logging(verbose)
    settings = hub_settings(config)
    service = HubService(settings)
    web = WebServer(create_app(service), settings.http_host, settings.http_port, log_level="info")
    # sd_notify: READY=1 once ingest and the web server run, WATCHDOG=1 from the ingest loop
    runtime = ServiceRuntime(HubProcess(service, web), SdNotifier.from_env(), watchdog_interval(), status="hub running")
    serve(
        runtime, on_started=lambda: typer.echo(f"hub running: {web.url} (API docs at {web.url}/docs after logging in)")
    )


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Option(help="who uses the token")],
    role: Annotated[str, typer.Option(help="viewer, operator, technician or admin")] = "operator",
) -> None:
    """Create an API token; prints the token once and the line to add to the hub config."""
    if role not in ROLES:
        raise fail(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token, digest = new_token()
    typer.echo(f"token (shown once): {token}")
    typer.echo("add to hub config under api_tokens:")
    typer.echo(f"  - {{name: {name}, role: {role}, sha256: {digest}}}")


def _store(config: Path) -> SqlEventStore:
    """The configured SQL event store, opened (migrations applied), or exit 2 saying why."""
    store = SqlEventStore(Database(hub_settings(config).store_url))
    try:
        store.open()
    except (StoreDamaged, StoreUnavailable) as exc:
        raise fail(str(exc)) from None
    return store


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise fail(f"--{name} needs a timezone, e.g. 2026-11-22T22:00:00+07:00")
    return value


@hub_app.command("export")
def export(
    config: ConfigOption = DEFAULT_CONFIG,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default stdout")] = None,
    since: TimeOption = None,
    until: TimeOption = None,
) -> None:
    """Write the event log as JSON Lines (wire fields plus received_at), oldest first."""
    since, until = _aware("since", since), _aware("until", until)
    store = _store(config)
    try:
        if output is None:
            count = export_events(store, sys.stdout, since, until)
        else:
            with output.open("w", encoding="utf-8") as handle:
                count = export_events(store, handle, since, until)
    finally:
        store.close()
    typer.echo(f"exported {count} events", err=True)


@hub_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSON Lines file (.jsonl or .jsonl.gz) from `poskamling hub export`")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add the file's events to the log; events already stored are skipped, bad lines reported and skipped."""
    if not file.exists():
        raise fail(f"{file}: no such file")
    store = _store(config)
    try:
        with open_text(file) as lines:
            report = import_events(store, lines)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{file}: cannot read ({exc})") from None
    finally:
        store.close()
    typer.echo(json.dumps(describe(report), ensure_ascii=False, indent=2))
    if report.bad:
        raise typer.Exit(1)


@hub_app.command("migrate")
def migrate(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Copy an earlier release's files into the SQL store: the TinyDB event log (data_dir/events/), the alert
    files (alerts.json and its monthly archives) and the audit log (audit.jsonl). Safe to re-run; the old
    files are only read, and kept."""
    settings = hub_settings(config)
    old = TinyEventStore(settings.data_dir / "events")
    old.open()
    store = _store(config)
    alerts = SqlAlertRepository(Database(settings.store_url))
    audit = SqlAuditLog(Database(settings.store_url))
    audit_file = settings.audit_file or settings.data_dir / "audit.jsonl"
    try:
        records = old.scan()
        report = migrate_tinydb(store, iter(records))
        missing = [r["id"] for r in records if not store.contains(str(r["id"]))]
        alert_report = migrate_alert_files(settings.data_dir / "alerts.json", alerts)
        audit.open()
        audit_report = migrate_audit_file(audit_file, audit)
    except (StoreDamaged, StoreUnavailable) as exc:
        raise fail(f"{exc}; nothing is lost: the old files are kept, run `poskamling hub migrate` again") from None
    finally:
        alerts.close()
        audit.close()
        store.close()
        old.close()
    summary = describe(report) | {
        "tinydb_events": len(records),
        "missing_after": len(missing),
        "alerts": alert_report.summary(),
        "audit": audit_report.summary(),
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    problems = []
    if missing or report.bad:
        problems.append(f"{len(missing)} events not in the SQL store")
    if alert_report.missing_after or alert_report.damaged:
        problems.append(
            f"{len(alert_report.missing_after)} alerts not in the SQL store, "
            f"{len(alert_report.damaged)} alert files damaged"
        )
    if audit_report.missing_after:
        problems.append(f"{audit_report.missing_after} audit lines not in the SQL store")
    if problems:
        raise fail(f"migration incomplete: {'; '.join(problems)}; the old files are kept")
    typer.echo(
        f"all {len(records)} events, {alert_report.read} alerts and {audit_report.read} audit lines are in "
        f"the SQL store; the old files ({old.root}, {settings.data_dir / 'alerts*.json'}, {audit_file}) are "
        "kept until you remove them",
        err=True,
    )


@hub_app.command("backup")
def backup_command(
    destination: Annotated[Path, typer.Argument(help="file to write (SQLite copy or pg_dump custom format)")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """An online, consistent backup of the event log while the hub runs."""
    store = _store(config)
    try:
        backup(store.database, destination)
    except (OSError, RuntimeError) as exc:
        raise fail(f"backup failed: {exc}") from None
    finally:
        store.close()
    typer.echo(f"backup written to {destination}")


@hub_app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="a file made by `poskamling hub backup`")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Replace the event log with a backup. Stop the hub first (systemctl stop poskamling-hub)."""
    database = Database(hub_settings(config).store_url)
    try:
        restore(database, source)
    except (OSError, RuntimeError, StoreDamaged) as exc:
        raise fail(f"restore failed: {exc}") from None
    finally:
        database.close()
    typer.echo(f"restored {source}; start the hub again")


def register(root: typer.Typer) -> None:
    root.add_typer(hub_app, name="hub")
    root.add_typer(token_app, name="token")
