import sys
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections


class Command(BaseCommand):
    help = "Check that the configured database answers (the notes' connection.ensure_connection()); exit 1 if not."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="default", help="database alias to check (default: default)")

    def handle(self, *args, database: str, **options) -> None:
        connection = connections[database]
        where = _describe(connection.settings_dict)
        started = time.monotonic()
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            version = (
                connection.mysql_server_info if connection.vendor == "mysql" else connection.Database.sqlite_version
            )
        except DatabaseError as exc:
            # One bare verdict line on stderr and exit status 1, for scripts and humans.
            self.stderr.write(f"FAIL {where}: {exc}")
            sys.exit(1)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.stdout.write(self.style.SUCCESS(f"OK {where} ({connection.vendor} {version}, {elapsed_ms:.0f} ms)"))


def _describe(settings_dict: dict) -> str:
    """Where the database is, without the password."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite {settings_dict['NAME']}"
    user = settings_dict.get("USER") or "?"
    return f"mysql {user}@{settings_dict.get('HOST')}:{settings_dict.get('PORT')}/{settings_dict['NAME']}"
