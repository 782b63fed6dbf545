from django.conf import settings
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from db_django.celery import app as celery_app

from .filters import ResourceFilter
from .models import Resource
from .serializers import ResourceSerializer
from .status import application_snapshot


class ResourceViewSet(viewsets.ModelViewSet):
    """Metric samples: list (cursor-paged, newest first), create, read, update, delete."""

    queryset = Resource.objects.all()
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter


@api_view(["GET"])
def application_status(request: Request) -> Response:
    """Sessions, users, workers and task counts; answers in bounded time even with the broker down."""
    return Response(application_snapshot(celery_app, settings.STATUS_TIMEOUT))
