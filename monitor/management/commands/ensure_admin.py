import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser for the embedded mode on first run and print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        if settings.API_REQUIRE_AUTH:
            # Production: no superuser with a password in a file; `make run` carries on without one.
            self.stdout.write("production mode (API_REQUIRE_AUTH): no admin created; use manage.py createsuperuser")
            return
        # The password lives in var/ beside the SQLite database it unlocks.
        secret_file = settings.VAR_DIR / "admin-password.txt"
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            users.create_superuser(username=username, email="", password=password)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
        saved = secret_file.read_text().strip() if secret_file.exists() else ""
        if user is not None and not (saved and user.check_password(saved)):
            # Changed since (in the admin, with changepassword): the file's would not log in.
            self.stdout.write(f"admin login: user {username!r}, with the password you set for it")
            return
        self.stdout.write(f"admin login: user {username!r}, password {saved!r}")
