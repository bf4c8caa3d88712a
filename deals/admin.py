"""Read-only admin over the report views, the deals and the upload history.

Data changes only through deals.services (an upload replaces everything in one transaction),
so no admin may add, change or delete; staff with the view permission, and superusers, see.
"""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from deals.models import CustomerTotal, Deal, TopCustomer, Upload
from deals.selectors import items_bought, table_row_estimate

admin.site.site_header = "deals-csv"
admin.site.site_title = "deals-csv admin"

# Below this many rows an exact COUNT(*) is cheap enough to run on every changelist page.
ESTIMATE_FROM_ROWS = 100_000


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TopCustomer)
class TopCustomerAdmin(ReadOnlyAdmin):
    list_display = ["rank", "username", "spent_money", "gems"]
    ordering = ["rank"]


@admin.register(CustomerTotal)
class CustomerTotalAdmin(ReadOnlyAdmin):
    list_display = ["username", "spent_money", "deals", "gems"]
    search_fields = ["username"]
    ordering = ["-spent_money", "username"]


class EstimatedCountPaginator(Paginator):
    """Counts a large unfiltered table from the planner's statistics instead of COUNT(*).

    The deals table can hold millions of rows; every upload ANALYZEs it, so the estimate is
    as fresh as the data. Filtered lists (a search, an item) are counted exactly.
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
    list_display = ["id", "customer", "item", "total", "quantity", "date"]
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
    list_display = [
        "id",
        "status",
        "filename",
        "rows",
        "size",
        "sha256",
        "started_at",
        "finished_at",
        "duration",
        "error",
    ]
    list_filter = ["status"]
    search_fields = ["filename", "sha256"]

    @admin.display(description="duration")
    def duration(self, upload: Upload) -> str | None:
        taken = upload.duration
        return None if taken is None else f"{taken.total_seconds():.3f} s"
