import re

from django.urls import path, register_converter
from django.urls.converters import PathConverter

from . import views

# A path segment that is only dots, after any number of `~`: `.`, `..`, `~.`, `~~..`, ...
_DOTS = re.compile(r"~*\.\.?")


class AnyText(PathConverter):
    """Like `path`, and any character too: a host or server name is whatever an agent sent, a newline
    included (`path`'s `.+` stops at one, and every page linking to such a host failed to render).

    A segment of the name that is `.` or `..` (a host named `..`, `a/../b`) is written with a `~` in
    front in the URL: `/hosts/~../`, `/hosts/a/~../b/`. Browsers resolve dot segments away before they
    ask (`%2e` spelt ones too, so percent-encoding does not help): `/hosts/../` opened the fleet. For the
    escape to read back unambiguously, a segment that already is tildes then one or two dots gets one
    more tilde too (`~.` is `/hosts/~~./`). Every other name keeps its plain URL. Everything that links
    to a host or server page (templates' {% url %}, reverse(), alert links) goes through here; the
    page scripts only reuse those hrefs or their own location.pathname.
    """

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return "/".join(s[1:] if _DOTS.fullmatch(s) and s[0] == "~" else s for s in value.split("/"))

    def to_url(self, value: str) -> str:
        return "/".join("~" + s if _DOTS.fullmatch(s) else s for s in value.split("/"))


register_converter(AnyText, "anytext")

app_name = "dashboard"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("hosts/<anytext:name>/", views.host, name="host"),
    path("servers/<str:kind>/", views.server, name="server_kind"),
    path("servers/<str:kind>/<anytext:server>/", views.server, name="server"),
    path("explore/", views.explore, name="explore"),
    path("explore/names/", views.names, name="names"),
    path("login/", views.LoginView.as_view(), name="login"),
]
