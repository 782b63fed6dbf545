"""POST /monitor/resources/: the notes' curl bodies and what gets stored."""

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitor.models import Resource
from procs import ROOT
from samples import store

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
README = (ROOT / "README.md").read_text()

# The notes' two curl lines, as the README shows them (the escaped one labelled as Windows cmd),
# and the README's two PowerShell forms.
NOTES_BASH = (
    "curl -X POST http://127.0.0.1:8000/monitor/resources/ -H 'Content-Type: application/json' "
    """-d '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}'"""
)
NOTES_CMD = (
    'curl -X POST http://127.0.0.1:8000/monitor/resources/ -H "Content-Type: application/json" '
    r'-d "{\"name\": \"CPU Usage\", \"value\": 75.5, \"description\": \"Average CPU usage in percentage\"}"'
)
POWERSHELL_IRM = (
    "Invoke-RestMethod -Method Post -Uri http://127.0.0.1:8000/monitor/resources/ -ContentType 'application/json' "
    """-Body '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}'"""
)
POWERSHELL_HERE_STRING = (
    "@'\n"
    '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}\n'
    '\'@ | curl.exe -X POST http://127.0.0.1:8000/monitor/resources/ -H "Content-Type: application/json" '
    "--data-binary '@-'"
)


def bash_argv(line: str) -> list[str]:
    """The arguments bash passes to curl for `line`: run by bash itself, with curl a function that prints them."""
    script = 'curl() { printf "%s\\0" "$@"; }; ' + line
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, timeout=10).stdout
    return out.decode().split("\0")[:-1]


def cmd_argv(line: str) -> list[str]:
    """The arguments curl.exe gets when `line` is typed at a Windows cmd prompt.

    cmd.exe hands the line to the program as it is, unless it holds what cmd
    itself acts on (`%` anywhere; `&|<>^` outside double quotes, quotes counted
    the way cmd counts them, ignoring backslashes); such a line is refused here.
    The program splits it with the Microsoft C runtime's rules (curl.exe is an
    MSVC build): whitespace separates arguments outside quotes; 2n backslashes
    before a quote give n backslashes and the quote opens or closes quoting;
    2n+1 give n backslashes and a literal quote; `""` inside quotes is a
    literal quote; other backslashes are literal.
    """
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == "%" or (not quoted and char in "&|<>^"):
            raise ValueError(f"cmd would act on {char!r} in {line!r}")
    return crt_argv(line)[1:]


def crt_argv(line: str) -> list[str]:
    args: list[str] = []
    current: list[str] = []
    in_arg = quoted = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            run = len(line[i:]) - len(line[i:].lstrip("\\"))
            if line[i + run : i + run + 1] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += run + 1
                else:
                    i += run
            else:
                current.append("\\" * run)
                i += run
            in_arg = True
            continue
        if char == '"':
            if quoted and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 2
                continue
            quoted = not quoted
            in_arg = True
        elif char in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(char)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(current))
    return args


def powershell_single_quoted(line: str, parameter: str) -> str:
    """The value of `parameter`'s single-quoted string argument, as PowerShell reads it (literal; '' is ')."""
    match = re.search(rf"{parameter} '((?:[^']|'')*)'", line)
    assert match, f"{parameter} '...' not in {line!r}"
    return match.group(1).replace("''", "'")


def powershell_here_string(text: str) -> str:
    """The content of a PowerShell single-quoted here-string (@'<newline> ... <newline>'@): literal, no last newline."""
    match = re.match(r"@'\n(.*)\n'@", text, re.S)
    assert match, text
    return match.group(1)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


BODIES = {
    "bash": lambda: option(bash_argv(NOTES_BASH), "-d"),
    "cmd": lambda: option(cmd_argv(NOTES_CMD), "-d"),
    "powershell-invoke-restmethod": lambda: powershell_single_quoted(POWERSHELL_IRM, "-Body"),
    "powershell-curl.exe-here-string": lambda: powershell_here_string(POWERSHELL_HERE_STRING),
}


@pytest.mark.parametrize("form", BODIES)
def test_it_answers_201_with_the_stored_row_for_each_documented_curl_form(client, form):
    body = BODIES[form]()
    before = timezone.now()
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 201, (body, response.content)
    data = response.json()
    row = Resource.objects.get()
    assert data["id"] == row.id
    assert data["name"] == "CPU Usage" == row.name
    assert data["value"] == 75.5 == row.value
    assert data["description"] == "Average CPU usage in percentage"
    assert data["host"] == ""
    assert before <= row.timestamp <= timezone.now()


@pytest.mark.parametrize(
    "line", [NOTES_BASH.replace("' -d", "' \\\n  -d"), NOTES_CMD, POWERSHELL_IRM, POWERSHELL_HERE_STRING]
)
def test_the_readme_shows_each_form_as_tested(line):
    assert line in README


def test_the_cmd_line_reaches_curl_as_the_bash_line_does():
    assert cmd_argv(NOTES_CMD) == bash_argv(NOTES_BASH)


# Microsoft's table of how the C runtime splits a command line ("Parsing C++ command-line arguments").
@pytest.mark.parametrize(
    "line, argv",
    [
        ('prog "abc" d e', ["abc", "d", "e"]),
        (r'prog a\\\b d"e f"g h', [r"a\\\b", "de fg", "h"]),
        (r"prog a\\\"b c d", ['a\\"b', "c", "d"]),
        (r'prog a\\\\"b c" d e', [r"a\\b c", "d", "e"]),
        ('prog a"b"" c d', ['ab" c d']),
    ],
)
def test_the_c_runtime_split_follows_microsofts_examples(line, argv):
    assert crt_argv(line)[1:] == argv


@pytest.mark.parametrize("line", ["curl -d a&b", "curl -d 50%", "curl -d a^b", 'curl -d "x" > out'])
def test_a_line_cmd_would_change_is_refused(line):
    with pytest.raises(ValueError):
        cmd_argv(line)


def test_each_answer_carries_the_id_of_its_own_stored_row(client):
    answers = [
        client.post(URL, {"name": "queue.depth", "value": n}, content_type="application/json").json() for n in range(3)
    ]
    stored = {row.id: row.value for row in Resource.objects.all()}
    assert {answer["id"]: answer["value"] for answer in answers} == stored
    assert len(stored) == 3


def test_it_keeps_a_client_timestamp_with_microseconds_in_utc(client):
    sent = "2026-11-24T23:59:58.123456+08:00"
    response = client.post(URL, {"name": "cpu.percent", "value": 1, "timestamp": sent}, content_type="application/json")
    assert response.status_code == 201
    stored = Resource.objects.get().timestamp
    assert stored == datetime(2026, 11, 24, 15, 59, 58, 123456, tzinfo=UTC)
    assert response.json()["timestamp"] == "2026-11-24T15:59:58.123456Z"
    fetched = client.get(f"{URL}{Resource.objects.get().id}/").json()
    assert fetched["timestamp"] == "2026-11-24T15:59:58.123456Z"


def test_it_stores_the_host_a_client_sends(client):
    response = client.post(URL, {"name": "load.1m", "value": 0.5, "host": "db-1"}, content_type="application/json")
    assert response.status_code == 201
    assert Resource.objects.get().host == "db-1"


def test_it_reads_updates_and_deletes_a_row(client):
    row = store(name="a", value=1, timestamp=timezone.now() - timedelta(minutes=1))
    assert client.get(f"{URL}{row.id}/").json()["value"] == 1
    response = client.patch(f"{URL}{row.id}/", {"value": 2.5}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["id"] == row.id  # same series, same instant
    assert Resource.objects.get(id=row.id).value == 2.5
    assert client.delete(f"{URL}{row.id}/").status_code == 204
    assert not Resource.objects.exists()
    assert client.get(f"{URL}{row.id}/").status_code == 404
