from django.contrib import admin
from django.urls import include, path

from monitor.ingest.views import LineProtocolView, RemoteWriteView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("monitor/", include("monitor.api.urls")),
    # Where agents look when given only a base URL: Prometheus-compatible receivers answer remote write at
    # /api/v1/write, InfluxDB 2 clients (Telegraf's influxdb_v2, influxdb-client, Glances) write to /api/v2/write.
    path("api/v1/write", RemoteWriteView.as_view(), name="remote_write_root"),
    path("api/v2/write", LineProtocolView.as_view(), name="line_protocol_v2"),
    # The language switch (POST language=en|zh-hans, remembered in a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    # The dashboard: / is the fleet view.
    path("", include("monitor.dashboard.urls")),
]

handler404 = "monitor.api.errors.not_found"
handler500 = "monitor.api.errors.server_error"
