"""python manage.py refresh_reports: recompute the report views from the deals table."""

from django.core.management.base import BaseCommand

from deals.services import reports_refresh


class Command(BaseCommand):
    help = (
        "Recompute the materialized report views from the deals table. Every upload already "
        "does this; run it after changing deals_deal by other means."
    )

    def handle(self, *args, **options) -> None:
        views = reports_refresh()
        self.stdout.write(f"Refreshed the report views: {', '.join(views)}")
