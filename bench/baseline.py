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

from django.db import connection, models
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, viewsets

NOTES_TABLE = "bench_notes_resource"
# The notes' table as their model declares it (plus the host column our API has), made by `create_notes_table`.
NOTES_TABLE_SQL = {
    "mysql": f"CREATE TABLE IF NOT EXISTS {NOTES_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL, value DOUBLE NOT NULL, description LONGTEXT NOT NULL,"
    " timestamp DATETIME(6) NOT NULL, host VARCHAR(255) NOT NULL DEFAULT '') CHARACTER SET utf8mb4",
    "sqlite": f"CREATE TABLE IF NOT EXISTS {NOTES_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name VARCHAR(200) NOT NULL, value REAL NOT NULL, description TEXT NOT NULL,"
    " timestamp DATETIME NOT NULL, host VARCHAR(255) NOT NULL DEFAULT '')",
}


class NotesResource(models.Model):
    """The notes' Resource model (section 2), on a table of its own."""

    name = models.CharField(max_length=200)
    value = models.FloatField()
    description = models.TextField()
    timestamp = models.DateTimeField(auto_now_add=True)
    host = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        app_label = "monitor"
        managed = False
        db_table = NOTES_TABLE


def create_notes_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(NOTES_TABLE_SQL[connection.vendor])


class NotesResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotesResource
        fields = "__all__"


class NotesResourceViewSet(viewsets.ModelViewSet):
    queryset = NotesResource.objects.all()
    serializer_class = NotesResourceSerializer


INSERT = f"INSERT INTO {NOTES_TABLE} (name, value, description, timestamp, host) VALUES (%s, %s, %s, %s, %s)"


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
