"""Who may look at the dashboard.

The embedded default (API_REQUIRE_AUTH off) is open like the API. With the
production policy a visitor needs a session: a staff user, or an active member
of DASHBOARD_GROUP. Anonymous visitors are sent to log in; the page never holds
a token, its requests ride on the session (and its CSRF token).
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import patch_cache_control


def may_view(user) -> bool:
    """A session user who may see the dashboard and read what it draws (also used by the batch endpoint)."""
    if not settings.API_REQUIRE_AUTH:
        return True
    if not (user and user.is_authenticated and user.is_active):
        return False
    if getattr(user, "is_staff", False):
        return True
    group = settings.DASHBOARD_GROUP
    return bool(group) and user.groups.filter(name=group).exists()


def login_url() -> str:
    """Staff log in through the admin; with a viewer group, through the dashboard's own login page
    (the admin's refuses users who are not staff)."""
    return reverse("dashboard:login") if settings.DASHBOARD_GROUP else reverse("admin:login")


def dashboard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorator: the view runs for those who may view (its answer never kept by a shared cache);
    anonymous visitors go to log in, others get 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if may_view(request.user):
            response = view(request, *args, **kwargs)
            # Live figures of a signed-in user: no shared cache keeps them, the browser asks again each time.
            patch_cache_control(response, private=True, no_cache=True)
            return response
        if not request.user.is_authenticated:
            return HttpResponseRedirect(f"{login_url()}?{urlencode({'next': request.get_full_path()})}")
        raise PermissionDenied

    return guarded
