from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("hosts/<path:name>/", views.host, name="host"),
    path("servers/<str:kind>/", views.server, name="server_kind"),
    path("servers/<str:kind>/<path:server>/", views.server, name="server"),
    path("explore/", views.explore, name="explore"),
    path("explore/names/", views.names, name="names"),
    path("login/", views.LoginView.as_view(), name="login"),
]
