from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitor.api.auth import hash_key, issue_token
from monitor.models import ApiToken


class Command(BaseCommand):
    help = "Issue, list and revoke API tokens (read-only or read-write)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token and print its key (shown only once)")
        create.add_argument("name", help="who or what uses it, e.g. 'agent on db-1'")
        create.add_argument("--scope", choices=[ApiToken.READ, ApiToken.WRITE], default=ApiToken.READ)
        sub.add_parser("list", help="list tokens (never their keys)")
        revoke = sub.add_parser("revoke", help="revoke a token by id, key prefix or the whole key")
        revoke.add_argument("token", help="id or key prefix as shown by 'list', or the whole key")

    def handle(self, *args, action: str, **options) -> None:
        if action == "create":
            name = options["name"].strip()
            limit = ApiToken._meta.get_field("name").max_length
            if not name or len(name) > limit:
                raise CommandError(f"give the token a name of 1 to {limit} characters (who or what uses it)")
            token, key = issue_token(name, options["scope"])
            self.stdout.write(f"{key}")
            self.stderr.write(f"token {token.id} '{token.name}' ({token.scope}); store the key now: it is not kept")
        elif action == "list":
            for token in ApiToken.objects.order_by("id"):
                state = "revoked" if token.revoked_at else "active"
                used = token.last_used_at.isoformat() if token.last_used_at else "never"
                self.stdout.write(f"{token.id}\t{token.prefix}\t{token.scope}\t{state}\tlast used {used}\t{token.name}")
        else:
            ref = options["token"].strip()
            if ref.isdigit():
                query = ApiToken.objects.filter(id=int(ref))
            elif len(ref) > ApiToken._meta.get_field("prefix").max_length:
                query = ApiToken.objects.filter(key_hash=hash_key(ref))  # the whole key, as a leak shows it
            else:
                query = ApiToken.objects.filter(prefix=ref)
            updated = query.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
            if not updated:
                raise CommandError(f"no active token matches {ref!r}")
            self.stdout.write(f"revoked {updated} token(s) matching {ref!r}")
