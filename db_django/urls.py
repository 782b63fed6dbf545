from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("monitor/", include("monitor.urls")),
]

handler404 = "monitor.errors.not_found"
handler500 = "monitor.errors.server_error"
