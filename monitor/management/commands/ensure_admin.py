import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser for the embedded mode on first run and print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        # The password lives in var/ beside the SQLite database it unlocks.
        secret_file = settings.VAR_DIR / "admin-password.txt"
        users = get_user_model().objects
        if not users.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(username=username, email="", password=password)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip() if secret_file.exists() else "(set earlier; see README)"
        self.stdout.write(f"admin login: user {username!r}, password {password!r}")
