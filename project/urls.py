from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from deals.api.schema import SchemaApi
from deals.api.views import ApiIndexApi

urlpatterns = [
    path("api/", include("deals.api.urls")),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    path(
        "api/docs/",
        # No OPTIONS: DRF would render its metadata with the HTML renderer and no template (500).
        SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="docs",
    ),
    path("admin/", admin.site.urls),
    # The same index as /api/; the schema documents that one.
    path("", ApiIndexApi.as_view(schema=None)),
]

handler400 = "deals.api.http_errors.bad_request"
handler403 = "deals.api.http_errors.permission_denied"
handler404 = "deals.api.http_errors.not_found"
handler500 = "deals.api.http_errors.server_error"
