from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("deals.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "deals.http_errors.bad_request"
handler403 = "deals.http_errors.permission_denied"
handler404 = "deals.http_errors.not_found"
handler500 = "deals.http_errors.server_error"
