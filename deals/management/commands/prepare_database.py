"""python manage.py prepare_database: what the container runs before it serves, in one process."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from deals.services import startup_serialized


class Command(BaseCommand):
    help = (
        "Bring the database up to date for this release: migrate, then ensure_superuser and "
        "ensure_analyst_role from the environment. Replicas starting at once take turns."
    )

    def handle(self, *args, **options) -> None:
        # One interpreter for the three steps: Django starts once, not three times (about a
        # second each in a container).
        # The streams as given (call_command's stdout=...), not self.stdout: a second wrapper
        # would end migrate's "Applying ..." before its "OK".
        output = {name: options[name] for name in ("stdout", "stderr") if options.get(name)}
        output["verbosity"] = options["verbosity"]
        with startup_serialized():
            call_command("migrate", interactive=False, **output)
            call_command("ensure_superuser", **output)
            call_command("ensure_analyst_role", **output)
