"""Baselines served beside the project's API by bench/urls.py.

- The notes' API as written there (sections 3 and 4): a plain ModelViewSet with
  a ModelSerializer over every field of the same `monitor.models.Resource`
  table, served by the same gunicorn, settings and middleware as the
  project's own `/monitor/resources/`. The write benchmarks' baseline.
- Two yardsticks for where a single POST's time goes (not baselines of a
  target): `insert_only`, the least a Django view can do with the same body
  (parse the JSON, one INSERT, answer 201), and `noop`, which answers 201
  without touching the database: what gunicorn + Django's middleware cost alone.
"""

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, viewsets

from monitor.models import Resource


class NotesResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Resource
        fields = "__all__"


class NotesResourceViewSet(viewsets.ModelViewSet):
    queryset = Resource.objects.all()
    serializer_class = NotesResourceSerializer


INSERT = (
    f"INSERT INTO {Resource._meta.db_table} (name, value, description, timestamp, host) VALUES (%s, %s, %s, %s, %s)"
)


@csrf_exempt
def insert_only(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    row = [data["name"], float(data["value"]), data.get("description", ""), timezone.now(), data.get("host", "")]
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [*row[:3], connection.ops.adapt_datetimefield_value(row[3]), row[4]])
        row_id = cursor.lastrowid
    keys = ("name", "value", "description", "timestamp", "host")
    return JsonResponse({"id": row_id, **dict(zip(keys, row, strict=True))}, status=201)


@csrf_exempt
def noop(request: HttpRequest) -> JsonResponse:
    json.loads(request.body)
    return JsonResponse({"id": 0}, status=201)
