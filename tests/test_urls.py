"""The notes' debugging aid: `manage.py show_urls` lists the routes."""

from django.core.management import call_command


def test_show_urls_lists_the_monitor_routes(capsys):
    call_command("show_urls")
    out = capsys.readouterr().out
    for route in ("/monitor/resources/", "/monitor/resources/<id>/", "/monitor/application/", "/admin/"):
        assert route in out
