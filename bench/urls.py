"""The project's URLs plus the baselines of bench/baseline.py under `baseline/`."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from bench.baseline import NotesResourceViewSet, insert_only, noop
from db_django.urls import urlpatterns as project_urlpatterns

router = DefaultRouter()
router.register(r"resources", NotesResourceViewSet, basename="baseline-resource")

urlpatterns = [
    *project_urlpatterns,
    path("baseline/insert-only/", insert_only),
    path("baseline/noop/", noop),
    path("baseline/", include(router.urls)),
]
