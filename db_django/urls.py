from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("monitor/", include("monitor.api.urls")),
]

handler404 = "monitor.api.errors.not_found"
handler500 = "monitor.api.errors.server_error"
