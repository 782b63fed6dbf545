from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitor.api.auth import issue_token
from monitor.models import ApiToken


class Command(BaseCommand):
    help = "Issue, list and revoke API tokens (read-only or read-write)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token and print its key (shown only once)")
        create.add_argument("name", help="who or what uses it, e.g. 'agent on db-1'")
        create.add_argument("--scope", choices=[ApiToken.READ, ApiToken.WRITE], default=ApiToken.READ)
        sub.add_parser("list", help="list tokens (never their keys)")
        revoke = sub.add_parser("revoke", help="revoke a token by id or key prefix")
        revoke.add_argument("token", help="id or key prefix as shown by 'list'")

    def handle(self, *args, action: str, **options) -> None:
        if action == "create":
            token, key = issue_token(options["name"], options["scope"])
            self.stdout.write(f"{key}")
            self.stderr.write(f"token {token.id} '{token.name}' ({token.scope}); store the key now: it is not kept")
        elif action == "list":
            for token in ApiToken.objects.order_by("id"):
                state = "revoked" if token.revoked_at else "active"
                used = token.last_used_at.isoformat() if token.last_used_at else "never"
                self.stdout.write(f"{token.id}\t{token.prefix}\t{token.scope}\t{state}\tlast used {used}\t{token.name}")
        else:
            ref = options["token"]
            query = ApiToken.objects.filter(id=int(ref)) if ref.isdigit() else ApiToken.objects.filter(prefix=ref)
            updated = query.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
            if not updated:
                raise CommandError(f"no active token matches {ref!r}")
            self.stdout.write(f"revoked {updated} token(s) matching {ref!r}")
