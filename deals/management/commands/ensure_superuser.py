"""python manage.py ensure_superuser: the admin's superuser from the environment, at each start."""

import os

from django.core.management.base import BaseCommand

from deals.services import superuser_ensure

NOT_SET = "DJANGO_SUPERUSER_USERNAME/PASSWORD not set; no superuser created"


class Command(BaseCommand):
    help = (
        "Create the superuser DJANGO_SUPERUSER_USERNAME with DJANGO_SUPERUSER_PASSWORD (and "
        "DJANGO_SUPERUSER_EMAIL), or update its password; does nothing unless both are set."
    )

    def handle(self, *args, **options) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not (username and password):
            self.stdout.write(NOT_SET)
            return
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        outcome = superuser_ensure(username=username, password=password, email=email)
        self.stdout.write(f"Superuser {username!r} {outcome}")
