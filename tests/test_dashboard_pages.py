"""The dashboard's pages as the server renders them: what they list, the charts they derive, who may see them."""

import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from monitor.dashboard import panels
from monitor.models import Host, Sample
from samples import point

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    """The JSON the page hands its script (json_script, id dash-config)."""
    html = response.content.decode()
    start = html.index('<script id="dash-config" type="application/json">') + len(
        '<script id="dash-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def fleet():
    """Three hosts: calm, busy (disk nearly full) and stale; a MySQL server that is down; the queue up."""
    now = timezone.now()
    rows = []
    for host, cpu, disk in (("calm-1", 5, 20), ("busy-1", 60, 97), ("old-1", 1, 10)):
        at = now - timedelta(hours=2) if host == "old-1" else now
        rows += [
            point("cpu.percent", cpu, host, at),
            point("cpu.user_percent", cpu / 2, host, at),
            point("cpu.system_percent", cpu / 2, host, at),
            point("cpu.count", 4, host, at),
            point("memory.used_percent", 30, host, at),
            point("memory.used_bytes", 3e9, host, at),
            point("load.1m", 0.5, host, at),
            point("disk.used_percent:/", disk, host, at),
            point("disk.used_percent:/data", disk / 2, host, at),
            point("net.rx_bytes_per_second:eth0", 1000, host, at),
            point("net.tx_bytes_per_second:eth0", 500, host, at),
            point('node_filesystem_avail_bytes{device="sda1",mountpoint="/"}', 1e9, host, at),
        ]
    rows += [
        point("mysql.up:10.0.0.5:3306", 0, "calm-1", now),
        point("mysql.queries_per_second:10.0.0.5:3306", 12, "busy-1", now - timedelta(seconds=10)),
        point("celery.broker_up", 1, "calm-1", now),
        point("celery.queue_length:celery", 3, "calm-1", now),
    ]
    Sample.objects.store(rows)
    Host.objects.filter(name="old-1").update(last_seen=now - timedelta(hours=2))


def test_the_root_url_opens_the_fleet_view(client, fleet):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'data-page="fleet"' in response.content


def test_hosts_are_listed_worst_first_and_the_stale_one_is_marked(client, fleet):
    hosts = panels.fleet_hosts()
    assert [h.name for h in hosts] == ["old-1", "busy-1", "calm-1"]
    assert [h.stale for h in hosts] == [True, False, False]
    assert hosts[1].disk.value == 97 and hosts[1].disk.note == "/"  # the fullest filesystem
    html = client.get("/").content.decode()
    row = html[html.index('data-host="old-1"') :]
    assert "stale" in row[: row.index("</tr>")]
    assert html.index('data-host="old-1"') < html.index('data-host="busy-1"') < html.index('data-host="calm-1"')


def test_servers_show_their_up_state_down_first(client, fleet):
    servers = panels.fleet_servers()
    assert [(s.kind, s.server, s.up) for s in servers] == [("mysql", "10.0.0.5:3306", 0.0), ("celery", "", 1.0)]
    assert servers[0].level == "crit"
    assert servers[0].figure.name == "mysql.queries_per_second:10.0.0.5:3306"  # collected by another worker


def test_the_table_alone_is_served_for_auto_refresh(client, fleet):
    response = client.get("/?part=rows")
    assert response.status_code == 200
    assert b"<html" not in response.content and b'data-host="busy-1"' in response.content


def test_the_host_view_derives_its_charts_from_the_catalog(client, fleet):
    response = client.get("/hosts/busy-1/")
    assert response.status_code == 200
    sections = {s["id"]: s for s in config_of(response)["sections"]}
    assert list(sections)[:4] == ["cpu", "load", "memory", "disk"]
    charts = {c["id"]: c for s in sections.values() for c in s["charts"]}
    assert [line["name"] for line in charts["cpu.modes"]["lines"]] == ["cpu.user_percent", "cpu.system_percent"]
    assert charts["cpu.modes"]["stacked"] and charts["cpu.modes"]["unit"] == "%"
    assert "disk.use:/" in charts and "disk.use:/data" in charts  # one chart per filesystem
    assert charts["net.bytes:eth0"]["unit"] == "bytes/s"
    assert all(line["host"] == "busy-1" for c in charts.values() for line in c["lines"])
    # a metric nobody wrote a chart for (a Prometheus agent's) gets its own, one line per label set
    generic = charts["metric:node_filesystem_avail_bytes"]
    assert generic["unit"] == "bytes" and generic["lines"][0]["label"] == "device=sda1, mountpoint=/"


def test_an_unknown_host_is_404(client, fleet):
    assert client.get("/hosts/nobody/").status_code == 404


def test_a_server_view_draws_its_series_across_every_host(client, fleet):
    response = client.get("/servers/mysql/10.0.0.5:3306/")
    assert response.status_code == 200
    charts = {c["id"]: c for s in config_of(response)["sections"] for c in s["charts"]}
    assert charts["mysql.up:10.0.0.5:3306"]["lines"][0] == {
        "label": "up",
        "name": "mysql.up:10.0.0.5:3306",
        "host": None,
        "aggregate": "avg",
    }
    assert "mysql.qps:10.0.0.5:3306" in charts
    assert client.get("/servers/celery/").status_code == 200
    assert client.get("/servers/oracle/x/").status_code == 404


def test_the_explorer_lists_catalog_names_with_their_hosts(client, fleet):
    names = {entry["name"]: entry for entry in config_of(client.get("/explore/"))["names"]}
    assert names["cpu.percent"]["hosts"] == ["busy-1", "calm-1", "old-1"]
    assert names["cpu.percent"]["unit"] == "%"
    found = client.get("/explore/names/", {"q": "DISK.used"}).json()
    assert [e["name"] for e in found["names"]] == ["disk.used_percent:/", "disk.used_percent:/data"]


def test_the_explorer_says_when_the_catalog_is_longer_than_what_it_sent(client, fleet, monkeypatch):
    monkeypatch.setattr(panels, "EXPLORER_NAMES", 2)
    config = config_of(client.get("/explore/"))
    assert len(config["names"]) == 2 and config["truncated"] is True


def test_the_pages_load_only_their_own_scripts_no_inline_code(client, fleet):
    html = client.get("/hosts/calm-1/").content.decode()
    assert "/static/dashboard/vendor/uplot/uPlot.iife.min.js" in html
    assert "<script>" not in html  # the CSP forbids inline scripts: config travels as JSON
    assert "cdn" not in html.lower()


# --- alerts ----------------------------------------------------------------------------------------


def firing() -> list[dict]:
    return [
        {
            "name": "DiskAlmostFull",
            "severity": "critical",
            "host": "busy-1",
            "summary": "/ is 97 % full",
            "since": timezone.now() - timedelta(minutes=5),
        }
    ]


def test_no_alert_block_while_alerting_provides_nothing(client, fleet, settings):
    settings.DASHBOARD_ALERTS = "monitor.alerts.dashboard.active_alerts"  # not there (yet)
    assert panels.active_alerts() == []
    assert b"alerts-title" not in client.get("/").content


def test_the_alert_block_lists_what_the_provider_returns(client, fleet, settings):
    settings.DASHBOARD_ALERTS = "test_dashboard_pages.firing"
    html = client.get("/").content.decode()
    assert "alerts-title" in html and "DiskAlmostFull" in html and "/ is 97 % full" in html


# --- access ----------------------------------------------------------------------------------------

PAGES = ["/", "/hosts/busy-1/", "/servers/celery/", "/explore/", "/explore/names/?q=cpu"]


@pytest.mark.parametrize("path", PAGES)
def test_the_embedded_default_is_open_like_the_api(client, fleet, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_in_production_an_anonymous_visitor_is_sent_to_the_admin_login(client, fleet, settings, path):
    settings.API_REQUIRE_AUTH = True
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_in_production_staff_see_it_and_other_users_do_not(client, fleet, settings):
    settings.API_REQUIRE_AUTH = True
    client.force_login(User.objects.create_user("someone"))
    assert client.get("/").status_code == 403
    client.force_login(User.objects.create_user("admin", is_staff=True))
    assert client.get("/").status_code == 200


def test_members_of_the_dashboard_group_see_it_and_log_in_on_its_own_page(client, fleet, settings):
    settings.API_REQUIRE_AUTH = True
    settings.DASHBOARD_GROUP = "viewers"
    assert client.get("/")["Location"] == "/login/?next=%2F"
    viewer = User.objects.create_user("viewer", password="a-long-password-4711")
    viewer.groups.add(Group.objects.create(name="viewers"))
    response = client.post("/login/?next=/", {"username": "viewer", "password": "a-long-password-4711", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_user_who_may_not_see_the_dashboard_is_not_logged_in_by_its_page(client, fleet, settings):
    settings.API_REQUIRE_AUTH = True
    settings.DASHBOARD_GROUP = "viewers"
    User.objects.create_user("someone", password="a-long-password-4711")  # active, neither staff nor a viewer
    response = client.post("/login/?next=/", {"username": "someone", "password": "a-long-password-4711", "next": "/"})
    assert response.status_code == 200 and b"may not see the dashboard" in response.content
    assert "_auth_user_id" not in client.session


def test_the_page_never_holds_a_token(client, fleet, settings):
    from monitor.api.auth import KEY_PREFIX, issue_token

    settings.API_REQUIRE_AUTH = True
    issue_token("agent", "write")
    client.force_login(User.objects.create_user("admin", is_staff=True))
    for path in PAGES[:4]:
        html = client.get(path).content.decode()
        assert KEY_PREFIX not in html and "Authorization" not in html


def test_a_host_named_with_a_newline_is_listed_and_its_page_opens(client, fleet):
    Sample.objects.store([point("cpu.percent", 5, "rack1\nweb-9", timezone.now())])
    fleet_page = client.get("/")
    assert fleet_page.status_code == 200
    assert "/hosts/rack1%0Aweb-9/" in fleet_page.content.decode()
    assert client.get("/hosts/rack1%0Aweb-9/").status_code == 200


def test_a_server_sample_without_a_server_name_links_to_its_kind(client, fleet):
    Sample.objects.store([point("mysql.up", 1, "db-7", timezone.now())])
    response = client.get("/")
    assert response.status_code == 200
    assert 'href="/servers/mysql/"' in response.content.decode()


def test_the_fleet_figures_are_the_hosts_own_series_not_a_labelled_one(client, fleet):
    Sample.objects.store([point("cpu.percent:</script><b>x</b>", 0, "busy-1", timezone.now())])
    (busy,) = [host for host in panels.fleet_hosts() if host.name == "busy-1"]
    assert (busy.cpu.name, busy.cpu.value) == ("cpu.percent", 60)


def test_a_metric_family_named_like_the_page_config_leaves_the_config_alone(client, fleet):
    Sample.objects.store([point("dash-config_total", 1, "calm-1", timezone.now())])
    html = client.get("/hosts/calm-1/").content.decode()
    assert html.count('id="dash-config"') == 1 and 'id="family-dash-config"' in html


def test_the_refresh_and_step_choices_are_in_chinese_too(client, fleet):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    host = client.get("/hosts/calm-1/", **zh).content.decode()
    assert '<option value="1m">1 分钟</option>' in host and '<option value="10s">10 秒</option>' in host
    explore = client.get("/explore/", **zh).content.decode()
    assert '<option value="1d">1 天</option>' in explore


def test_an_unknown_host_says_so_in_the_visitors_language_with_a_way_back(client, fleet, settings):
    settings.DEBUG = False
    response = client.get("/hosts/nobody/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = response.content.decode()
    assert response.status_code == 404 and "未找到" in html and "返回主机总览" in html
    assert "nobody" in html  # the view's message: no host of that name has reported


@pytest.mark.parametrize("path", ["/", "/hosts/calm-1/", "/explore/", "/explore/names/"])
def test_dashboard_answers_are_never_kept_by_a_shared_cache(client, fleet, path):
    cache_control = client.get(path)["Cache-Control"]
    assert "private" in cache_control and "no-cache" in cache_control


def test_the_more_link_of_a_crowded_chart_opens_the_series_it_left_out(client, fleet):
    from urllib.parse import parse_qs

    now = timezone.now()
    Sample.objects.store(
        [point(f'app.requests{{code="{code}"}}', 1, "calm-1", now) for code in range(100, 100 + panels.MAX_LINES + 3)]
    )
    html = client.get("/hosts/calm-1/").content.decode()
    start = html.index('class="more" href="/explore/?') + len('class="more" href="/explore/?')
    query = parse_qs(html[start : html.index('"', start)].replace("&amp;", "&"))
    assert query["host"] == ["calm-1"]
    assert len(query["metric"]) == 3 and all(name.startswith("app.requests{") for name in query["metric"])


class Links(HTMLParser):
    """Every <a> of a page as (its text, whitespace collapsed; its href)."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.open: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.open.append([dict(attrs).get("href", ""), ""])

    def handle_data(self, data):
        for link in self.open:
            link[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self.open:
            href, text = self.open.pop()
            self.found.append((" ".join(text.split()), href))


def link_named(html: str, text: str, under: str) -> str:
    """The href of the one link reading `text` whose target starts with `under`."""
    (href,) = [href for label, href in Links(html).found if label == text and href.startswith(under)]
    return href


def opened_by_a_browser(href: str) -> str:
    """The path and query a browser asks for when it follows `href` (an absolute path): the WHATWG URL
    parser drops `.` segments and lets `..` ones remove the segment before, `%2e` spelt ones included."""
    path, mark, query = href.partition("?")
    segments = path.split("/")[1:]
    kept: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        dots = segment.lower().replace("%2e", ".")
        if dots == "..":
            if kept:
                kept.pop()
            if last:
                kept.append("")
        elif dots == ".":
            if last:
                kept.append("")
        else:
            kept.append(segment)
    return "/" + "/".join(kept) + mark + query


DOT_NAMES = [".", "..", "a/../b", "./x", "x/.", "a/./b", "../..", "a/.."]


@pytest.mark.parametrize("name", DOT_NAMES)
def test_a_host_named_with_dot_segments_opens_its_own_page_from_the_fleet(client, fleet, name):
    Sample.objects.store([point("cpu.percent", 5, name, timezone.now()), point("cpu.percent", 7, "b", timezone.now())])
    fleet_page = client.get("/").content.decode()
    href = link_named(fleet_page, name, "/hosts/")
    assert f'<option value="{href}">' in fleet_page  # the host picker opens the same page
    path = opened_by_a_browser(href)
    page = client.get(path)
    assert page.status_code == 200 and config_of(page).get("rawHost") == name
    # host.js refreshes the stale badge from the page's own path
    state = client.get(path + "?part=state")
    assert state.status_code == 200 and state["Content-Type"] == "application/json"


@pytest.mark.parametrize("name", [".", "..", "a/../b", "/var/run/../mysqld.sock"])
def test_a_server_named_with_dot_segments_opens_its_own_page_from_the_fleet_and_its_host(client, fleet, name):
    Sample.objects.store([point(f"mysql.up:{name}", 1, "db-9", timezone.now())])
    fleet_page = client.get("/").content.decode()
    host_page = client.get("/hosts/db-9/").content.decode()
    for href in (
        link_named(fleet_page, f"MySQL {name}", "/servers/"),
        link_named(host_page, f"mysql {name}", "/servers/"),
    ):
        page = client.get(opened_by_a_browser(href))
        assert page.status_code == 200 and f"<title>MySQL {name} ·" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("web-1", "/hosts/web-1/"),
        ("rack/web-1", "/hosts/rack/web-1/"),
        ("...", "/hosts/.../"),
        (".hidden/x.", "/hosts/.hidden/x./"),
        ("~x/~", "/hosts/~x/~/"),
        ("%2e", "/hosts/%252e/"),
        ("~.", "/hosts/~~./"),  # tildes then dots: one tilde more, so that `~.` reads back as `.`
        ("a/~~../b", "/hosts/a/~~~../b/"),
    ],
)
def test_only_dot_segments_change_a_host_url_and_every_name_reads_back(client, fleet, name, url):
    Sample.objects.store([point("cpu.percent", 5, name, timezone.now())])
    assert link_named(client.get("/").content.decode(), name, "/hosts/") == url
    assert config_of(client.get(opened_by_a_browser(url))).get("rawHost") == name
