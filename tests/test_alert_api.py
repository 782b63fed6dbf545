"""/monitor/alerts/: rules CRUD with clear validation errors, current alerts, events to follow, silences."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.evaluation import evaluate
from monitor.alerts.models import AlertEvent, AlertRule, Silence
from monitor.api.auth import issue_token
from samples import point, store_many

pytestmark = pytest.mark.django_db
RULES = "/monitor/alerts/rules/"
RULE = {"name": "disk_full", "metric": "disk.used_percent", "warning": 85, "warning_clear": 80, "window": 300}


@pytest.fixture
def tokens(settings):
    settings.API_REQUIRE_AUTH = True
    return {scope: f"Token {issue_token(scope, scope)[1]}" for scope in ("read", "write")}


@pytest.fixture
def no_default_rules():
    AlertRule.objects.all().delete()


def post(client, url, body, auth=None):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(url, body, content_type="application/json", **headers)


def test_a_write_token_creates_a_rule_and_a_read_token_reads_it_but_may_not_write(client, tokens):
    assert post(client, RULES, RULE, tokens["read"]).status_code == 403
    created = post(client, RULES, RULE, tokens["write"])
    assert created.status_code == 201, created.json()
    assert created.json()["name"] == "disk_full" and created.json()["lookup"] == "avg"
    read = client.get(RULES + "disk_full/", HTTP_AUTHORIZATION=tokens["read"])
    assert read.status_code == 200 and read.json()["warning_clear"] == 80
    assert client.get(RULES).status_code == 401
    patched = client.patch(
        RULES + "disk_full/", {"warning": 88}, content_type="application/json", HTTP_AUTHORIZATION=tokens["write"]
    )
    assert patched.status_code == 200 and patched.json()["warning"] == 88
    assert client.delete(RULES + "disk_full/", HTTP_AUTHORIZATION=tokens["write"]).status_code == 204


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"warning": None, "warning_clear": None}, "non_field_errors", "nodata=alert"),
        ({"warning_clear": 90}, "warning_clear", "<= 85"),
        ({"direction": "below", "warning": 10, "warning_clear": 5}, "warning_clear", ">= 10"),
        ({"window": 30}, "window", "60"),
        ({"critical_clear": 50}, "critical_clear", "threshold"),
        ({"critical": 50}, "critical", "past warning"),
        ({"metric": "disk.*.used"}, "metric", "prefix"),
        ({"labels": {"severity": "high"}}, "labels", "evaluator"),
        ({"match_labels": {"mount": 1}}, "match_labels", "text"),
        ({"lookup": "median"}, "lookup", "valid choice"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(client, changes, field, words):
    response = post(client, RULES, {**RULE, **changes})
    assert response.status_code == 400
    body = response.json()
    assert field in body, body
    assert words in " ".join(body[field]), body
    assert not AlertRule.objects.filter(name="disk_full").exists()


def test_a_rule_that_only_watches_for_silence_is_valid(client):
    response = post(client, RULES, {"name": "quiet", "metric": "cpu.count", "nodata": "alert", "window": 60})
    assert response.status_code == 201, response.json()


def test_a_patch_is_validated_against_the_stored_rule(client):
    post(client, RULES, RULE)
    response = client.patch(RULES + "disk_full/", {"warning_clear": 86}, content_type="application/json")
    assert response.status_code == 400 and "warning_clear" in response.json()


def firing(n_hosts: int = 3) -> None:
    AlertRule.objects.create(**RULE)
    now = timezone.now()
    store_many(point("disk.used_percent:/", 90 + i, f"web-{i}", now - timedelta(seconds=5)) for i in range(n_hosts))
    store_many([point("disk.used_percent:/", 10, "db-1", now)])
    evaluate()


def test_alerts_lists_what_is_not_ok_and_filters(client, no_default_rules):
    firing()
    body = client.get("/monitor/alerts/").json()
    assert sorted(a["host"] for a in body) == ["web-0", "web-1", "web-2"]
    first = body[0]
    assert first["rule"] == "disk_full" and first["state"] == "warning" and first["firing"]
    assert first["labels"]["severity"] == "warning" and first["labels"]["mount"] == "/"
    assert [a["host"] for a in client.get("/monitor/alerts/?host=web-1").json()] == ["web-1"]
    assert client.get("/monitor/alerts/?severity=critical").json() == []
    assert len(client.get("/monitor/alerts/?state=warning,critical").json()) == 3
    assert client.get("/monitor/alerts/?state=ok").json() == []
    assert client.get("/monitor/alerts/?rule=nope").json() == []
    assert client.get("/monitor/alerts/?state=on_fire").status_code == 400


def test_more_alerts_than_the_series_bound_ask_for_a_filter(client, no_default_rules, settings):
    firing()  # three alerts
    settings.API_MAX_SERIES = 2
    response = client.get("/monitor/alerts/?all=1")
    assert response.status_code == 400
    assert "API_MAX_SERIES" in response.json()["detail"][0]
    assert [a["host"] for a in client.get("/monitor/alerts/?all=1&host=web-1").json()] == ["web-1"]


def test_events_page_in_ascending_id_and_next_polls_for_new_ones(client, no_default_rules):
    firing(5)
    body = client.get("/monitor/alerts/events/?limit=2").json()
    ids = [e["id"] for e in body["results"]]
    assert ids == sorted(ids) and len(ids) == 2 and body["has_more"]
    seen = list(ids)
    url = body["next"]
    for _ in range(5):
        body = client.get(url).json()
        seen += [e["id"] for e in body["results"]]
        url = body["next"]
    assert seen == list(AlertEvent.objects.order_by("id").values_list("id", flat=True))
    assert not body["has_more"] and body["results"] == []
    AlertRule.objects.filter(name="disk_full").update(warning=99, warning_clear=99)
    evaluate()  # all five resolve
    news = client.get(url.replace("limit=2", "limit=10")).json()["results"]
    assert [(e["from_state"], e["to_state"]) for e in news] == [("warning", "ok")] * 5
    assert [e["host"] for e in client.get("/monitor/alerts/events/?host=web-3").json()["results"]] == ["web-3"] * 2
    assert client.get("/monitor/alerts/events/?after=-1").status_code == 400


def test_a_silence_is_created_by_the_user_and_must_end_after_it_starts(client, tokens):
    body = {
        "matchers": [{"name": "host", "value": "web-.*", "regex": True}],
        "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
        "comment": "maintenance",
    }
    created = post(client, "/monitor/alerts/silences/", body, tokens["write"])
    assert created.status_code == 201, created.json()
    assert created.json()["created_by"].startswith("token:") and created.json()["active"]
    silence = Silence.objects.get()
    assert silence.matchers == [{"name": "host", "value": "web-.*", "regex": True}]
    bad = post(client, "/monitor/alerts/silences/", {**body, "ends_at": "2000-01-01T00:00:00Z"}, tokens["write"])
    assert bad.status_code == 400 and "ends_at" in bad.json()
    bad = post(client, "/monitor/alerts/silences/", {**body, "matchers": []}, tokens["write"])
    assert bad.status_code == 400 and "matchers" in bad.json()
    unsafe = {**body, "matchers": [{"name": "host", "value": "web-(", "regex": True}]}
    bad = post(client, "/monitor/alerts/silences/", unsafe, tokens["write"])
    assert bad.status_code == 400 and "matchers" in bad.json()
    bad = post(
        client, "/monitor/alerts/silences/", {**body, "matchers": [{"name": "1x", "value": "a"}]}, tokens["write"]
    )
    assert bad.status_code == 400
    gone = client.delete(f"/monitor/alerts/silences/{silence.id}/", HTTP_AUTHORIZATION=tokens["write"])
    assert gone.status_code == 204


def test_the_api_root_lists_the_alert_endpoints(client):
    body = client.get("/monitor/", HTTP_ACCEPT="application/json").json()
    assert body["alerts"].endswith("/monitor/alerts/")
    assert body["alert_rules"].endswith("/monitor/alerts/rules/")
    assert body["alert_events"].endswith("/monitor/alerts/events/")
    assert body["silences"].endswith("/monitor/alerts/silences/")


def test_a_summary_asking_for_a_huge_width_is_refused(client):
    rule = {"name": "wide", "metric": "cpu.percent", "warning": 90, "summary": "{value:>4611686018427387904}"}
    response = client.post("/monitor/alerts/rules/", rule, content_type="application/json")
    assert response.status_code == 400 and "summary" in response.json()
