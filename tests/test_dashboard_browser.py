"""The dashboard in a real browser: headless Chromium (Debian's, driven by Selenium) against a live server.

Checks what a person would: every view draws its charts with data (the series'
own colour is on the canvas, not only axes), dragging across a chart zooms every
chart and writes the range into the URL, a stale host says so, a Chinese browser
gets the Chinese UI, production mode sends an anonymous visitor to log in, and
auto refresh stops while the tab is hidden.
"""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from monitor.models import Host, Sample
from samples import point
from servers import need_program

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WINDOW = (1400, 1000)
# The first series' colour in dash.js (COLORS[0], #73bf69): what a drawn line leaves on the canvas.
FIRST_COLOR = (0x73, 0xBF, 0x69)


def browser(language: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = need_program("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    return webdriver.Chrome(options=options, service=Service(need_program("chromedriver")))


@pytest.fixture(scope="module")
def english():
    pytest.importorskip("selenium")
    driver = browser("en-US,en")
    yield driver
    driver.quit()


@pytest.fixture
def fresh(english):
    """The English browser with no cookies (language, session) from an earlier test."""
    english.delete_all_cookies()
    english.get("about:blank")
    return english


@pytest.fixture
def fleet():
    """Two reporting hosts with the last hour every 10 s (a 5-minute hole in web-1's CPU) and a stale one."""
    now = timezone.now().replace(microsecond=0)
    rows = []
    for host, base in (("web-1", 20.0), ("web-2", 60.0)):
        for i in range(360):
            at = now - timedelta(seconds=10 * i)
            wave = base + 10 * ((i % 30) / 30)
            if not (host == "web-1" and 60 <= i < 90):
                rows.append(point("cpu.percent", wave, host, at))
            rows += [
                point("cpu.user_percent", wave * 0.7, host, at),
                point("cpu.system_percent", wave * 0.3, host, at),
                point("memory.used_percent", 40 + i % 7, host, at),
                point("load.1m", 1 + (i % 11) / 10, host, at),
                point("disk.used_percent:/", 55, host, at),
                point("net.rx_bytes_per_second:eth0", 1e6 + 1e4 * (i % 13), host, at),
            ]
    rows += [point("cpu.percent", 3, "old-1", now - timedelta(hours=3) - timedelta(seconds=10 * i)) for i in range(30)]
    rows += [point("mysql.up:127.0.0.1:3306", 1, "web-1", now - timedelta(seconds=10 * i)) for i in range(360)]
    Sample.objects.store(rows)
    Host.objects.filter(name="old-1").update(last_seen=now - timedelta(hours=3))


def wait_loaded(driver, loads: int = 1, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = driver.execute_script("return Number(document.body.dataset.loads || 0)")
        if done >= loads:
            return
        time.sleep(0.1)
    status = driver.execute_script("const s = document.getElementById('status'); return s && s.textContent")
    raise AssertionError(f"the page did not load its series ({loads}) in {timeout} s; status: {status}")


CHARTS = """
const [r, g, b] = arguments[0];
return [...Dash.charts].filter((c) => !c.mini).map((c) => {
  const canvas = c.u.ctx.canvas;
  const pixels = c.u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const close = (a, b) => Math.abs(a - b) < 12;
  const near = (i) => close(pixels[i], r) && close(pixels[i + 1], g) && close(pixels[i + 2], b);
  let coloured = 0;
  for (let i = 0; i < pixels.length; i += 4) if (near(i)) coloured++;
  return {
    id: c.chart.id,
    values: c.u.data.slice(1).reduce((n, col) => n + col.filter((v) => v != null).length, 0),
    buckets: c.u.data[0].length,
    nulls: c.u.data.slice(1).map((col) => col.filter((v) => v === null).length),
    plotWidth: c.u.bbox.width / uPlot.pxRatio,
    min: c.u.scales.x.min,
    max: c.u.scales.x.max,
    coloured,
  };
});
"""


def charts(driver) -> list[dict]:
    return driver.execute_script(CHARTS, list(FIRST_COLOR))


def test_the_host_view_draws_every_chart_with_its_data_in_one_request(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/hosts/web-1/?range=1h")
    wait_loaded(fresh)
    drawn = charts(fresh)
    assert {c["id"] for c in drawn} >= {"cpu.modes", "cpu.busy", "load", "memory.percent", "disk.use:/"}
    for chart in drawn:
        assert chart["values"] > 100, chart  # an hour every 10 s: hundreds of points, not an empty canvas
        assert chart["coloured"] > 200, chart  # the first line's colour is on the canvas
        assert chart["buckets"] <= chart["plotWidth"] + 1  # about one point per pixel, never more
    assert fresh.execute_script("return Dash.stats.requests") == 1  # every chart from one batch request
    # web-1's CPU missed five minutes: drawn as a gap (nulls), not a line across
    busy = next(c for c in drawn if c["id"] == "cpu.busy")
    step = fresh.execute_script("return Dash.stats.step")
    assert busy["nulls"][0] >= 300 / step - 2


def test_a_wide_range_asks_for_about_one_point_per_pixel(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/hosts/web-1/?range=24h")
    wait_loaded(fresh)
    for chart in charts(fresh):
        assert chart["plotWidth"] / 3 < chart["buckets"] <= chart["plotWidth"] + 1, chart


def test_the_fleet_view_draws_a_sparkline_per_figure_and_marks_the_stale_host(live_server, fresh, fleet):
    fresh.get(live_server.url + "/")
    wait_loaded(fresh)
    rows = fresh.execute_script(
        "return [...document.querySelectorAll('tr[data-host]')].map((tr) => [tr.dataset.host, tr.className,"
        " tr.querySelector('.state').textContent.replace(/\\s+/g, ' ').trim()])"
    )
    assert [r[0] for r in rows] == ["old-1", "web-2", "web-1"]  # worst first: stale, then the busiest
    assert "stale" in rows[0][1] and "stale" in rows[0][2].lower()
    assert "stale" not in rows[1][1]
    sparks = fresh.execute_script(
        "return [...Dash.charts].filter((c) => c.mini).map((c) => [c.chart.lines[0].host,"
        " c.u.data[1].filter((v) => v != null).length])"
    )
    live = [count for host, count in sparks if host in ("web-1", "web-2")]
    assert len(live) == 8 and min(live) > 50, sparks


def test_the_host_view_of_a_stale_host_says_so(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/hosts/old-1/")
    badge = fresh.find_element("id", "host-stale")
    assert badge.is_displayed() and badge.text.lower() == "stale"
    fresh.get(f"{live_server.url}/hosts/web-2/")
    assert not fresh.find_element("id", "host-stale").is_displayed()


def test_dragging_across_a_chart_zooms_every_chart_and_writes_the_range_into_the_url(live_server, fresh, fleet):
    from selenium.webdriver.common.action_chains import ActionChains

    fresh.get(f"{live_server.url}/hosts/web-1/?range=1h")
    wait_loaded(fresh)
    before = charts(fresh)
    over = fresh.find_elements("css selector", "figure.chart .u-over")[0]
    width = over.size["width"]
    ActionChains(fresh).move_to_element_with_offset(over, -width // 4, 0).click_and_hold().move_by_offset(
        width // 3, 0
    ).release().perform()
    wait_loaded(fresh, 2)
    query = parse_qs(urlsplit(fresh.current_url).query)
    assert "range" not in query
    start, end = int(query["from"][0]), int(query["to"][0])
    assert 0 < end - start < 3600 / 2
    after = charts(fresh)
    for chart in after:
        assert abs(chart["min"] - start) <= 1 and abs(chart["max"] - end) <= 1, chart
        assert chart["values"] > 0, (chart, start, end)
    assert after[0]["min"] > before[0]["min"]
    zoomed = fresh.current_url
    # Back returns to the hour, every chart with it
    fresh.back()
    wait_loaded(fresh, 3)
    assert "range=1h" in fresh.current_url
    assert all(abs(c["max"] - c["min"] - 3600) < 5 for c in charts(fresh))
    # the shared link opens the same range
    fresh.get(zoomed)
    wait_loaded(fresh)
    assert abs(charts(fresh)[0]["min"] - start) <= 1


def test_presets_change_the_range_of_every_chart(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/hosts/web-1/?range=1h")
    wait_loaded(fresh)
    fresh.find_element("css selector", "[data-range='15m']").click()
    wait_loaded(fresh, 2)
    assert "range=15m" in fresh.current_url
    for chart in charts(fresh):
        assert abs((chart["max"] - chart["min"]) - 900) < 5, chart


def test_the_explorer_overlays_a_metric_of_several_hosts_and_links_the_raw_rows(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/explore/?range=1h")
    search = fresh.find_element("id", "metric-search")
    search.send_keys("memory.used")
    fresh.find_element("css selector", "[data-metric='memory.used_percent']").click()
    wait_loaded(fresh)
    assert "metric=memory.used_percent" in fresh.current_url
    (chart,) = charts(fresh)
    assert chart["values"] > 600  # two hosts, an hour each
    labels = fresh.execute_script("return [...Dash.charts][0].chart.lines.map((l) => l.host)")
    assert labels == ["web-1", "web-2"]
    links = [a.get_attribute("href") for a in fresh.find_elements("css selector", "#raw-links a")]
    assert len(links) == 2 and "/monitor/resources/?name=memory.used_percent&host=web-1&since=" in links[0]
    fresh.get(links[0].replace("/monitor/resources/", "/monitor/resources/") + "&format=json")
    assert '"name":"memory.used_percent"' in fresh.page_source.replace(" ", "")


def test_auto_refresh_pauses_while_the_tab_is_hidden_and_catches_up_when_shown(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/hosts/web-1/?range=15m&refresh=10s")
    wait_loaded(fresh)
    fresh.execute_script(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'));"
    )
    requests = fresh.execute_script("return Dash.stats.requests")
    assert fresh.find_element("id", "status").get_attribute("data-kind") == "paused"
    time.sleep(11)  # past the 10 s refresh: nothing is asked while hidden
    assert fresh.execute_script("return Dash.stats.requests") == requests
    fresh.execute_script(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'));"
    )
    wait_loaded(fresh, 2)
    assert fresh.execute_script("return Dash.stats.requests") == requests + 1


def test_a_chinese_browser_gets_the_chinese_dashboard(live_server, fleet):
    pytest.importorskip("selenium")
    driver = browser("zh-CN,zh")
    try:
        driver.get(f"{live_server.url}/hosts/web-1/?range=1h")
        wait_loaded(driver)
        assert driver.find_element("tag name", "html").get_attribute("lang") == "zh-hans"
        text = driver.find_element("tag name", "body").text
        assert "按模式的 CPU" in text or "CPU 各模式" in text, text[:500]
        assert "时间范围" in driver.page_source
        assert driver.find_element("css selector", "[data-range='1h']").text == "1 小时"
    finally:
        driver.quit()


def test_the_language_switch_turns_the_page_chinese_and_stays(live_server, fresh, fleet):
    from selenium.webdriver.support.ui import Select

    fresh.get(f"{live_server.url}/?x=1")
    assert "Hosts" in fresh.find_element("tag name", "body").text
    Select(fresh.find_element("id", "language")).select_by_value("zh-hans")
    deadline = time.monotonic() + 10
    while "主机" not in fresh.find_element("tag name", "body").text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "主机" in fresh.find_element("tag name", "body").text
    assert urlsplit(fresh.current_url).query == "x=1"  # back on the page it was on
    fresh.get(f"{live_server.url}/explore/")
    assert "指标" in fresh.find_element("tag name", "body").text


def test_in_production_an_anonymous_visitor_is_sent_to_log_in(live_server, fresh, fleet, settings):
    settings.API_REQUIRE_AUTH = True
    fresh.get(f"{live_server.url}/hosts/web-1/")
    parts = urlsplit(fresh.current_url)
    assert parts.path == "/admin/login/" and parse_qs(parts.query)["next"] == ["/hosts/web-1/"]
    assert fresh.find_element("name", "username")


def test_the_language_switch_keeps_the_range_chosen_on_the_page(live_server, fresh, fleet):
    from selenium.webdriver.support.ui import Select

    fresh.get(f"{live_server.url}/hosts/web-1/?range=1h")
    wait_loaded(fresh)
    fresh.find_element("css selector", "[data-range='24h']").click()  # the URL changes without a new page
    wait_loaded(fresh, 2)
    Select(fresh.find_element("id", "language")).select_by_value("zh-hans")
    deadline = time.monotonic() + 10
    while fresh.find_element("tag name", "html").get_attribute("lang") != "zh-hans" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert urlsplit(fresh.current_url).path == "/hosts/web-1/"
    assert parse_qs(urlsplit(fresh.current_url).query)["range"] == ["24h"]


def test_a_lone_sample_is_drawn_as_a_dot(live_server, fresh):
    Sample.objects.store([point("cpu.percent", 50, "lone-1", timezone.now() - timedelta(minutes=20))])
    fresh.get(f"{live_server.url}/hosts/lone-1/?range=1h")
    wait_loaded(fresh)
    (busy,) = [c for c in charts(fresh) if c["id"] == "cpu.busy"]
    assert busy["values"] == 1 and busy["coloured"] > 0, busy


@pytest.mark.django_db(transaction=True)
def test_when_the_session_ends_the_fleet_refresh_asks_to_log_in_instead_of_showing_the_login_page_inside(
    live_server, fresh, fleet, settings
):
    from django.contrib.auth.models import User
    from django.contrib.sessions.models import Session

    settings.API_REQUIRE_AUTH = True
    User.objects.create_user("ops", password="a-long-password-1", is_staff=True)
    fresh.get(f"{live_server.url}/admin/login/?next=/%3Frefresh%3D2s")
    fresh.find_element("name", "username").send_keys("ops")
    fresh.find_element("name", "password").send_keys("a-long-password-1")
    fresh.find_element("css selector", "[type=submit]").click()
    wait_loaded(fresh)
    assert urlsplit(fresh.current_url).path == "/"
    Session.objects.all().delete()  # logged out elsewhere, or expired
    deadline = time.monotonic() + 15
    while urlsplit(fresh.current_url).path == "/" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert urlsplit(fresh.current_url).path == "/admin/login/"


def test_the_bare_explorer_asks_to_pick_a_metric(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/explore/")
    deadline = time.monotonic() + 10
    status = ""
    while time.monotonic() < deadline and "Pick" not in status:
        status = fresh.find_element("id", "status").text
        time.sleep(0.1)
    assert "Pick one or more metrics" in status, status


def test_a_link_to_a_metric_beyond_the_names_the_explorer_was_sent_draws_it(live_server, fresh, fleet, monkeypatch):
    from monitor.dashboard import panels

    monkeypatch.setattr(panels, "EXPLORER_NAMES", 2)  # the page gets the first two names only
    fresh.get(f"{live_server.url}/explore/?metric=net.rx_bytes_per_second:eth0&range=1h")
    wait_loaded(fresh)
    drawn = fresh.execute_script(
        "return [...Dash.charts].map((c) => c.u.data.slice(1).flat().filter((v) => v != null).length)"
    )
    assert drawn and all(count > 50 for count in drawn), drawn


def test_an_open_host_page_shows_the_host_going_stale(live_server, fresh, fleet, settings):
    settings.HOST_STALE_AFTER = 30
    fresh.get(f"{live_server.url}/hosts/web-2/?range=1h&refresh=1s")
    wait_loaded(fresh)
    assert not fresh.find_element("id", "host-stale").is_displayed()
    Host.objects.filter(name="web-2").update(last_seen=timezone.now() - timedelta(minutes=5))  # it stopped
    deadline = time.monotonic() + 10
    while not fresh.find_element("id", "host-stale").is_displayed() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fresh.find_element("id", "host-stale").is_displayed()
    assert "5 min" in fresh.find_element("css selector", ".host-state time").text


def test_a_step_the_range_cannot_hold_falls_back_to_one_it_can(live_server, fresh, fleet):
    fresh.get(f"{live_server.url}/explore/?metric=cpu.percent&range=30d&step=10s")
    wait_loaded(fresh)
    status = fresh.find_element("id", "status").text
    assert "Updated" in status and "Could not" not in status, status
    assert fresh.execute_script("return Dash.stats.step") > 10
