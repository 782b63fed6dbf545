"""The Django admin: login page, the Resource changelist (search, host filter) and
the legacy `user` table, which is only offered where that table exists."""

import pytest
from django.db import connection
from django.urls import reverse

from samples import point, store_many

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:monitor_resource_changelist")


@pytest.fixture
def resources() -> list:
    return store_many(
        [
            point("cpu.percent", 12.5, host="web-1"),
            point("memory.used_bytes", 2.0e9, host="web-1"),
            point("mysql.threads_connected", 7, host="db-1"),
        ]
    )


def _rows(response) -> list[str]:
    """Metric names shown in the changelist table, in display order."""
    return [str(obj) for obj in response.context["cl"].result_list]


def test_it_serves_the_login_page(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_lists_resources_on_the_changelist(admin_client, resources):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert sorted(_rows(response)) == ["cpu.percent", "memory.used_bytes", "mysql.threads_connected"]
    for name in ("cpu.percent", "memory.used_bytes", "mysql.threads_connected"):
        assert name.encode() in response.content


def test_it_searches_resources_by_name(admin_client, resources):
    response = admin_client.get(CHANGELIST, {"q": "memory"})

    assert response.status_code == 200
    assert _rows(response) == ["memory.used_bytes"]
    assert b"cpu.percent" not in response.content


def test_it_searches_resources_by_host(admin_client, resources):
    response = admin_client.get(CHANGELIST, {"q": "db-1"})

    assert response.status_code == 200
    assert _rows(response) == ["mysql.threads_connected"]


def test_it_filters_resources_by_host(admin_client, resources):
    response = admin_client.get(CHANGELIST, {"host": "web-1"})

    assert response.status_code == 200
    assert sorted(_rows(response)) == ["cpu.percent", "memory.used_bytes"]
    assert b"mysql.threads_connected" not in response.content


def test_it_offers_each_host_as_a_filter_choice(admin_client, resources):
    response = admin_client.get(CHANGELIST)

    assert b"?host=web-1" in response.content
    assert b"?host=db-1" in response.content


def test_it_hides_the_legacy_user_admin_when_its_table_does_not_exist(admin_client):
    # The test database is built by migrations only; the unmanaged `user` table
    # comes from sql/legacy_user.sql, which is never run on it.
    assert "user" not in connection.introspection.table_names()

    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert b"Resources" in response.content
    assert b"Legacy users" not in response.content
    assert reverse("admin:monitor_legacyuser_changelist").encode() not in response.content


def test_the_series_changelist_lists_each_series_with_its_latest_value(admin_client, resources):
    from monitor.models import Series

    page = admin_client.get(reverse("admin:monitor_series_changelist"), {"q": "cpu"})
    assert page.status_code == 200
    (series,) = page.context["cl"].result_list
    assert series.name == "cpu.percent" and page.context["cl"].model_admin.latest_value(series) == 12.5
    assert (
        admin_client.get(
            reverse("admin:monitor_series_change", args=[Series.objects.get(name="cpu.percent").pk])
        ).status_code
        == 200
    )


def test_a_series_cannot_be_deleted_from_the_admin_leaving_its_samples_behind(admin_client, resources):
    from monitor.models import Sample, Series

    series = Series.objects.get(name="cpu.percent")
    assert (
        admin_client.post(reverse("admin:monitor_series_delete", args=[series.pk]), {"post": "yes"}).status_code == 403
    )
    assert Series.objects.filter(pk=series.pk).exists() and Sample.objects.filter(series_id=series.pk).exists()


def test_deleting_a_selection_removes_those_samples_and_rebuilds_what_they_were_part_of(admin_client):
    from datetime import UTC, datetime, timedelta

    from django.db.models import Sum

    from monitor.models import Resource, Rollup, Sample

    t0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    store_many(
        [
            point("cpu.percent", i, host=host, timestamp=t0 + timedelta(seconds=20 * i))
            for host in ("a", "b")
            for i in range(9)
        ]
    )
    doomed = list(
        Resource.objects.filter(host="a", timestamp__gte=t0 + timedelta(minutes=2)).values_list("id", flat=True)
    )
    assert len(doomed) == 3
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": doomed, "post": "yes"})
    assert response.status_code == 302
    assert Sample.objects.count() == 15
    minutes = Rollup.objects.filter(step=Rollup.MINUTE)
    assert minutes.aggregate(n=Sum("count"))["n"] == 15
    latest_a = Rollup.objects.get(step=Rollup.LATEST, series__host="a")
    assert latest_a.last == 5.0  # the newest sample left on a
