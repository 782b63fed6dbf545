"""English and Chinese: the catalog is complete and compiled, and each audience gets its language.

The Chinese catalog (monitor/locale/zh_Hans) covers the dashboard, our API
messages and our admin texts; Django and DRF bring their own zh_Hans for the
rest. Its .mo is committed, so a checkout needs no gettext to run; these tests
fail when it falls behind the .po, or the .po behind the code.
"""

import gettext
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from procs import ROOT
from servers import need_program

PO = ROOT / "monitor" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}


def po_entries(path: Path) -> list[dict]:
    """Each entry of a .po file: msgid, msgid_plural, msgstr (or msgstr[n]) and its flags."""
    entries = []
    for block in path.read_text().split("\n\n"):
        entry: dict = {"flags": set(), "msgstr": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
                continue
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgid_plural|msgid|msgstr(?:\[(\d+)\])?) "(.*)"$', line)
            if match:
                key = (match.group(1), match.group(2))
                text = match.group(3)
            elif line.startswith('"') and key:
                text = line[1:-1]
            else:
                continue
            text = text.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
            name, index = key
            if name.startswith("msgstr"):
                entry["msgstr"][int(index or 0)] = entry["msgstr"].get(int(index or 0), "") + text
            else:
                entry[name] = entry.get(name, "") + text
        if "msgid" in entry:
            entries.append(entry)
    return entries


def test_every_message_has_a_chinese_translation():
    entries = [e for e in po_entries(PO) if e["msgid"]]
    assert len(entries) > 150
    for entry in entries:
        assert "fuzzy" not in entry["flags"], entry["msgid"]
        assert entry["msgstr"] and all(entry["msgstr"].values()), f"untranslated: {entry['msgid']!r}"
        # placeholders survive translation
        wanted = sorted(re.findall(r"%\(\w+\)[sdr]", entry["msgid"]))
        assert sorted(re.findall(r"%\(\w+\)[sdr]", entry["msgstr"][0])) == wanted, entry


def test_the_compiled_catalog_is_the_current_po():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    for entry in po_entries(PO):
        if not entry["msgid"]:
            continue
        if "msgid_plural" in entry:
            assert compiled[(entry["msgid"], 0)] == entry["msgstr"][0]
        else:
            assert compiled[entry["msgid"]] == entry["msgstr"][0], entry["msgid"]
    strings = {key for key in compiled if key}
    assert len(strings) == len([e for e in po_entries(PO) if e["msgid"]]), "the .mo holds messages the .po lost"


def test_every_string_of_the_code_is_in_the_catalog(tmp_path):
    """makemessages over a copy of the code finds nothing the committed catalog lacks."""
    need_program("xgettext")
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("manage.py", "db_django", "monitor"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(source, copy / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "db_django.settings"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    found = {e["msgid"] for e in po_entries(copy / PO.relative_to(ROOT)) if e["msgid"]}
    known = {e["msgid"] for e in po_entries(PO) if e["msgid"]}
    assert found - known == set(), "run makemessages -l zh_Hans and translate these"
    assert known - found == set(), "messages no longer in the code: run makemessages --no-obsolete"


# --- who gets which language -------------------------------------------------------------------


@pytest.mark.django_db
def test_api_errors_follow_accept_language(client):
    bad = json.dumps({"name": "cpu", "value": "NaN"})
    english = client.post("/monitor/resources/", bad, content_type="application/json").json()
    chinese = client.post("/monitor/resources/", bad, content_type="application/json", **ZH).json()
    assert english == {"value": ["Must be a finite number (not NaN or Infinity)."]}
    assert chinese == {"value": ["必须是有限数值（不能是 NaN 或 Infinity）。"]}
    # DRF's own messages come from its zh_Hans catalog
    missing = client.post("/monitor/resources/series/batch/", "{}", content_type="application/json", **ZH).json()
    assert missing == {"items": ["该字段是必填项。"]}
    assert client.get("/monitor/nothing-here/", **ZH).json() == {"detail": "未找到。"}


@pytest.mark.django_db
def test_a_client_that_names_no_language_gets_english(client):
    answer = client.get("/monitor/resources/", {"page_size": "0"}).json()
    assert answer == {"page_size": ["Must be an integer from 1 to 1000."]}


@pytest.mark.django_db
def test_the_admin_speaks_chinese_to_a_chinese_browser(client):
    page = client.get("/admin/login/", **ZH).content.decode()
    assert 'lang="zh-hans"' in page and "用户名" in page and "密码" in page
    client.force_login(User.objects.create_superuser("admin", password="not-used-here-1"))
    index = client.get("/admin/", **ZH).content.decode()
    assert "监控" in index  # our app's name
    from monitor.api.auth import issue_token

    issue_token("agent", "read")
    tokens = client.get("/admin/monitor/apitoken/", **ZH).content.decode()
    assert "吊销所选令牌" in tokens


@pytest.mark.django_db
def test_the_dashboard_speaks_chinese_to_a_chinese_browser(client):
    page = client.get("/", **ZH).content.decode()
    assert '<html lang="zh-hans">' in page and "总览" in page and "指标浏览" in page
    config = json.loads(page.split('<script id="dash-config" type="application/json">')[1].split("</script>")[0])
    assert config["lang"] == "zh-hans" and config["strings"]["paused"] == "标签页隐藏期间已暂停自动刷新"


@pytest.mark.django_db
def test_the_switch_remembers_the_choice_over_the_browser_language(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/explore/"})
    assert response.status_code == 302 and response["Location"] == "/explore/"
    page = client.get("/explore/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "搜索指标" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Search metrics" in client.get("/explore/", **ZH).content.decode()


@pytest.mark.django_db
def test_times_the_server_writes_are_in_its_time_zone(client, settings):
    from datetime import UTC, datetime

    from monitor.models import Host

    settings.TIME_ZONE = "Asia/Shanghai"
    Host.objects.create(name="web-1", last_seen=datetime(2026, 11, 25, 1, 30, tzinfo=UTC))
    page = client.get("/").content.decode()
    assert 'datetime="2026-11-25T09:30:00+08:00"' in page
