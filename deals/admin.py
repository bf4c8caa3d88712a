"""The admin: the report views, the deals and the upload history, read-only; users and groups,
for superusers only.

Data changes only through deals.services (an upload replaces everything in one transaction),
so no data page may add, change or delete, not even for a superuser; staff given a page's view
permission, and superusers, see it. Amounts read as in the API (deals.money).
"""

from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db import DataError, transaction
from django.urls import reverse_lazy
from django.utils.functional import cached_property
from django.utils.text import Truncator

from deals.models import CustomerTotal, Deal, TopCustomer, Upload
from deals.money import exact_amount
from deals.selectors import data_view_permissions, items_bought, table_row_estimate

admin.site.site_header = "deals-csv"
admin.site.site_title = "deals-csv admin"
# "View site": the service has no HTML pages of its own; its front page is the API docs.
admin.site.site_url = reverse_lazy("docs")
# Six pages need no sidebar, and the Uploads list needs its 300 px to fit a 1280 px screen.
admin.site.enable_nav_sidebar = False

# Below this many rows an exact COUNT(*) is cheap enough to run on every changelist page.
ESTIMATE_FROM_ROWS = 100_000
# List columns hold short excerpts so that the Uploads list fits a 1280 px screen; the detail
# page shows the whole text.
ERROR_EXCERPT_CHARS = 60
FILENAME_EXCERPT_CHARS = 40


def money(field: str) -> Callable:
    """A column and detail field showing the amount in `field` as the API does: 451731, 10.5.

    Named apart from the field itself: the admin would format a DecimalField as 451731.00.
    """

    @admin.display(description=field.replace("_", " "), ordering=field)
    def exact(model_admin, obj) -> str:
        return str(exact_amount(getattr(obj, field)))

    return exact


def excerpt(text: str, chars: int) -> str:
    """The first line of `text`, cut to `chars` characters; "…" when anything was left out."""
    first_line, newline, _ = text.partition("\n")
    short = Truncator(first_line).chars(chars)
    return f"{short}…" if newline and short == first_line else short


class RefusedFiltersChangeList(ChangeList):
    """A list whose filter or search values PostgreSQL refuses is answered as Django answers an
    unknown lookup: the unfiltered list, flagged `?e=1` (not a 500). Staff can type any lookup
    into the URL: a NUL (`?item=%00`), a bad regular expression (`?customer__regex=(`).

    The count runs every filter the page's rows do, so its failure is theirs; in a savepoint,
    so that the request's connection stays usable even inside a transaction.
    """

    def get_results(self, request):
        try:
            with transaction.atomic():
                super().get_results(request)
        except (DataError, ValueError) as exc:  # ValueError: psycopg2 refuses NUL in a string
            raise IncorrectLookupParameters(exc) from exc


class FiltersRefusedGracefully(admin.ModelAdmin):
    """Every admin page of the site: its list answers refused filters as above."""

    def get_changelist(self, request, **kwargs):
        return RefusedFiltersChangeList


class ReadOnlyAdmin(FiltersRefusedGracefully):
    """Every field of `fields` shown read-only, none editable, no add, change or delete."""

    def get_readonly_fields(self, request, obj=None):
        # Also the fields a form would leave out: auto_now_add dates, computed values.
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TopCustomer)
class TopCustomerAdmin(ReadOnlyAdmin):
    spent_money_exact = money("spent_money")
    list_display = ["rank", "username", "spent_money_exact", "gems"]
    fields = list_display
    ordering = ["rank"]


@admin.register(CustomerTotal)
class CustomerTotalAdmin(ReadOnlyAdmin):
    spent_money_exact = money("spent_money")
    list_display = ["username", "spent_money_exact", "deals", "gems"]
    fields = list_display
    search_fields = ["username"]
    ordering = ["-spent_money", "username"]


class EstimatedCountPaginator(Paginator):
    """Counts a large unfiltered table from the planner's statistics instead of COUNT(*).

    The deals table can hold millions of rows; every upload rebuilds its primary key, which
    counts them, so the estimate is exact after each upload. Filtered lists (a search, an
    item) are counted exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = table_row_estimate(queryset.model._meta.db_table)
            if estimate >= ESTIMATE_FROM_ROWS:
                return estimate
        return super().count


class ItemFilter(admin.SimpleListFilter):
    """Items listed from the per-customer totals view, not by DISTINCT over every deal."""

    title = "item"
    parameter_name = "item"

    def lookups(self, request, model_admin):
        return [(item, item) for item in items_bought()]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(item=value) if value else queryset


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    total_exact = money("total")
    list_display = ["id", "customer", "item", "total_exact", "quantity", "date"]
    fields = list_display
    # Exact match: over millions of rows a substring search would scan every one of them.
    # A partial name is found on the customer totals page, one row per customer.
    search_fields = ["customer__exact"]
    search_help_text = "Exact customer name (find names on the Customer totals page)."
    list_filter = [ItemFilter]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    # With a filter on, the "N total" link would need a second COUNT(*) over all deals.
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        # The whole term is one name: Django would split "John Smith" into two words.
        if not search_term:
            return queryset, False
        return queryset.filter(customer=search_term.strip()), False


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    # The list shows excerpts (the sha256 only on the detail page) to fit a 1280 px screen.
    list_display = [
        "id",
        "started_at",
        "status",
        "filename_excerpt",
        "rows",
        "size",
        "duration",
        "error_excerpt",
    ]
    fields = [
        "id",
        "status",
        "filename",
        "size",
        "sha256",
        "rows",
        "started_at",
        "finished_at",
        "duration",
        "error",
    ]
    list_filter = ["status"]
    search_fields = ["filename", "sha256"]

    class Media:
        css = {"all": ["deals/admin.css"]}

    @admin.display(description="filename", ordering="filename")
    def filename_excerpt(self, upload: Upload) -> str:
        return excerpt(upload.filename, FILENAME_EXCERPT_CHARS)

    @admin.display(description="error")
    def error_excerpt(self, upload: Upload) -> str:
        return excerpt(upload.error, ERROR_EXCERPT_CHARS)

    @admin.display(description="duration")
    def duration(self, upload: Upload) -> str:
        taken = upload.duration
        # The list would show "-" for None, but the detail page "None".
        return self.get_empty_value_display() if taken is None else f"{taken.total_seconds():.3f} s"


class SuperusersOnly(FiltersRefusedGracefully):
    """Only superusers see or change the page, whatever permissions a staff user holds.

    A staff user allowed to change users could make itself a superuser. The permissions a
    superuser can grant are the data pages' view permissions: nothing else has an effect.
    """

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name in {"user_permissions", "permissions"}:
            kwargs["queryset"] = data_view_permissions()
        return super().formfield_for_manytomany(db_field, request, **kwargs)


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(SuperusersOnly, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(SuperusersOnly, auth_admin.GroupAdmin):
    pass
