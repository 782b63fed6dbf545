from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from monitor.exposition.views import MetricsView
from monitor.ingest.views import LineProtocolView, RemoteWriteView

from .alerts import AlertRuleViewSet, SilenceViewSet, alert_events, alert_list
from .batch import series_batch
from .resources import ResourceViewSet
from .views import api_root, application_status, collect_now, health, hosts

router = DefaultRouter()
router.include_root_view = False  # the root lists every endpoint, not only the router's (views.api_root)
router.register(r"resources", ResourceViewSet, basename="resource")
router.register(r"alerts/rules", AlertRuleViewSet, basename="alertrule")
router.register(r"alerts/silences", SilenceViewSet, basename="silence")

urlpatterns = [
    path("", api_root, name="api-root"),
    path("application/", application_status, name="application_status"),
    path("hosts/", hosts, name="hosts"),
    path("health/", health, name="health"),
    path("collect/", collect_now, name="collect_now"),
    path("alerts/", alert_list, name="alert-list"),
    path("alerts/events/", alert_events, name="alert-events"),
    # Prometheus and InfluxDB speak without trailing slashes (issue 15; db_django/urls.py has root aliases).
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/v1/write", RemoteWriteView.as_view(), name="remote_write"),
    path("write", LineProtocolView.as_view(), name="line_protocol"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script at docs/?script instead of
    # inlining it, so the page runs under a CSP without 'unsafe-inline' scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    # Before the router's resources/<id>/: a read of many series at once (monitor/api/batch.py).
    path("resources/series/batch/", series_batch, name="series_batch"),
    path("", include(router.urls)),
]
