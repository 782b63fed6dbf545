from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("monitor/", include("monitor.api.urls")),
    # The language switch (POST language=en|zh-hans, remembered in a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    # The dashboard: / is the fleet view.
    path("", include("monitor.dashboard.urls")),
]

handler404 = "monitor.api.errors.not_found"
handler500 = "monitor.api.errors.server_error"
