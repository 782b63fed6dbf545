from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .views import ResourceViewSet, application_status, hosts

router = DefaultRouter()
router.register(r"resources", ResourceViewSet)

urlpatterns = [
    path("application/", application_status, name="application_status"),
    path("hosts/", hosts, name="hosts"),
    path("", include(router.urls)),
]
