from django.apps import AppConfig
from django.conf import settings


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = "Deals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_pgviews.signals import all_views_synced

        all_views_synced.connect(regrant_analyst_reads, dispatch_uid="deals.regrant_analyst_reads")


def regrant_analyst_reads(sender, **kwargs):
    """django-pgviews re-creates a view whose SQL changed (at migrate), losing its grants."""
    from deals.analyst import analyst_role_regrant

    if settings.DEALS_ANALYST_USER:
        analyst_role_regrant(username=settings.DEALS_ANALYST_USER)
