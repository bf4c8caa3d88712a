from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deals.analyst import analyst_role_ensure, readable_relations
from deals.errors import DealsError


class Command(BaseCommand):
    help = (
        "Create or update the analysts' read-only PostgreSQL role from DEALS_ANALYST_USER, "
        "DEALS_ANALYST_PASSWORD, DEALS_ANALYST_STATEMENT_TIMEOUT and "
        "DEALS_ANALYST_CONNECTION_LIMIT; does nothing when DEALS_ANALYST_USER is empty."
    )

    def handle(self, *args, **options):
        username = settings.DEALS_ANALYST_USER
        if not username:
            self.stdout.write("DEALS_ANALYST_USER is not set: no analyst role.")
            return
        try:
            created = analyst_role_ensure(
                username=username,
                password=settings.DEALS_ANALYST_PASSWORD,
                statement_timeout=settings.DEALS_ANALYST_STATEMENT_TIMEOUT,
                connection_limit=settings.DEALS_ANALYST_CONNECTION_LIMIT,
            )
        except DealsError as exc:
            raise CommandError(exc.message) from exc
        tables = ", ".join(readable_relations())
        self.stdout.write(
            f"analyst role {username!r} {'created' if created else 'updated'}: "
            f"SELECT on {tables}; "
            f"statement_timeout {settings.DEALS_ANALYST_STATEMENT_TIMEOUT}"
        )
