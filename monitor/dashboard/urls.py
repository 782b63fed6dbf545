from django.urls import path, register_converter
from django.urls.converters import PathConverter

from . import views


class AnyText(PathConverter):
    """Like `path`, and any character too: a host or server name is whatever an agent sent, a newline
    included (`path`'s `.+` stops at one, and every page linking to such a host failed to render)."""

    regex = r"[\s\S]+"


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
