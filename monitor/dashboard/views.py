"""The dashboard's pages: fleet (/), a host, a server, the metric explorer; and its login page.

Each page is rendered with everything but the series: which charts to draw and
what they draw comes from the catalog (panels.py) and is handed to the page's
script as JSON; the script asks the batch endpoint for every chart's series in
one request, sized to the charts' width, and draws them with uPlot.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from monitor.models import Host, Series

from . import panels
from .access import dashboard_view, login_url, may_view
from .templatetags.dashboard import ago


def strings() -> dict[str, str]:
    """The words the page scripts write themselves, in the request's language."""
    return {
        "loading": _("Loading…"),
        "noData": _("No data in this time range"),
        "failed": _("Could not load the series: %(error)s"),
        "updated": _("Updated %(time)s"),
        "paused": _("Auto refresh paused while this tab is hidden"),
        "absolute": _("Fixed range: auto refresh is off"),
        "allHosts": _("all hosts"),
        "pickMetric": _("Pick one or more metrics on the left."),
        "noMatch": _("No metric matches."),
        "zoomHint": _("Drag across a chart to zoom; double-click to zoom out"),
        "step": _("one point per %(step)s"),
        "badRange": _("The start of the range must be before its end."),
        "up": _("up"),
        "down": _("down"),
        "remove": _("Remove %(name)s"),
        "time": _("Time"),
    }


def page_config(request: HttpRequest, **extra) -> dict:
    return {
        "batchUrl": reverse("series_batch"),
        "resourcesUrl": reverse("resource-list"),
        "minStep": settings.METRICS_INTERVAL,
        "staleAfter": settings.HOST_STALE_AFTER,
        "lang": get_language(),
        "strings": strings(),
        **extra,
    }


def stale_after() -> timedelta:
    return timedelta(seconds=settings.HOST_STALE_AFTER)


def nav_hosts() -> list[str]:
    return list(Host.objects.order_by("name").values_list("name", flat=True))


@require_GET
@dashboard_view
def fleet(request: HttpRequest) -> HttpResponse:
    """Every host and server at a glance, worst first; `?part=rows` answers only the table (auto refresh)."""
    hosts = panels.fleet_hosts()
    servers = panels.fleet_servers()
    context = {"hosts": hosts, "servers": servers, "alerts": panels.active_alerts()}
    if request.GET.get("part") == "rows":
        return render(request, "dashboard/fleet_rows.html", context)
    return render(
        request,
        "dashboard/fleet.html",
        {**context, "page": "fleet", "nav_hosts": [h.name for h in hosts], "config": page_config(request)},
    )


@require_GET
@dashboard_view
def host(request: HttpRequest, name: str) -> HttpResponse:
    """Every chart of one host, grouped by metric family."""
    if request.GET.get("part") == "state":
        return host_state(name)
    rows = panels.catalog(host=name)
    known = Host.objects.filter(name=name).first()
    if not rows and known is None:
        raise _no_such_host(name)
    found = panels.sections(rows, host=name)
    servers = sorted({(row.metric.split(".")[0], row.labels.get("server", "")) for row in rows if _is_server(row)})
    return render(
        request,
        "dashboard/charts.html",
        {
            "page": "host",
            "title": name,
            "subject": name,
            "known": known,
            "stale": known is not None and _is_stale(known),
            "alerts": panels.active_alerts(host=name),
            "sections": found,
            "servers": servers,
            "nav_hosts": nav_hosts(),
            "config": page_config(request, sections=panels.as_json(found), rawHost=name),
        },
    )


def host_state(name: str) -> JsonResponse:
    """When the host last reported, and whether that is stale: the open host page refreshes its badge from it."""
    known = Host.objects.filter(name=name).first()
    if known is None:
        raise _no_such_host(name)
    return JsonResponse(
        {
            "last_seen": known.last_seen.timestamp(),
            "stale": _is_stale(known),
            "text": _("last report %(ago)s ago") % {"ago": ago(known.last_seen)},
        }
    )


def _is_stale(known: Host) -> bool:
    return timezone.now() - known.last_seen > stale_after()


def _no_such_host(name: str) -> Http404:
    return Http404(_("No host named %(name)s has reported.") % {"name": name})


@require_GET
@dashboard_view
def server(request: HttpRequest, kind: str, server: str | None = None) -> HttpResponse:
    """One MySQL or Redis server, or the task queue: its charts across every host that collected it."""
    if kind not in panels.SERVER_KINDS:
        raise Http404
    rows = panels.catalog(family=kind, server=server if kind != "celery" else None)
    if not rows:
        raise Http404(_("Nothing collected from this server."))
    found = panels.sections(rows, host=None)
    title = f"{kind.capitalize() if kind != 'mysql' else 'MySQL'} {server or ''}".strip()
    if kind == "celery":
        title = _("Task queue")
    return render(
        request,
        "dashboard/charts.html",
        {
            "page": "server",
            "title": title,
            "subject": title,
            "sections": found,
            "servers": [],
            "nav_hosts": nav_hosts(),
            "config": page_config(request, sections=panels.as_json(found), rawHost=None),
        },
    )


@require_GET
@dashboard_view
def explore(request: HttpRequest) -> HttpResponse:
    """Any metric of the catalog on one or more hosts, overlaid or side by side."""
    names, truncated = explorer_names(request.GET.get("q", ""))
    return render(
        request,
        "dashboard/explore.html",
        {
            "page": "explore",
            "nav_hosts": nav_hosts(),
            "config": page_config(
                request,
                names=names,
                truncated=truncated,
                namesUrl=reverse("dashboard:names"),
                hosts=nav_hosts(),
            ),
        },
    )


@require_GET
@dashboard_view
def names(request: HttpRequest) -> JsonResponse:
    """Catalog names containing `q`, with their hosts and unit: the explorer's search beyond what it was sent."""
    found, truncated = explorer_names(request.GET.get("q", ""))
    return JsonResponse({"names": found, "truncated": truncated})


def explorer_names(query: str) -> tuple[list[dict], bool]:
    """[{name, unit, hosts}] in name order, at most panels.EXPLORER_NAMES names, and whether there were more.

    One pass over the catalog in name order (a few rows per name: one per host), stopped past the limit.
    """
    rows = Series.objects.order_by("name", "host")
    if query.strip():
        # Names compare byte for byte on MySQL (binary collation): lower both sides for a search.
        rows = rows.annotate(lowered=Lower("name")).filter(lowered__contains=query.strip().lower())
    found: dict[str, dict] = {}
    for name, metric, labels, unit, row_host in rows.values_list("name", "metric", "labels", "unit", "host").iterator():
        entry = found.get(name)
        if entry is None:
            if len(found) == panels.EXPLORER_NAMES:
                return list(found.values()), True
            row = panels.CatalogRow(name, metric, labels or {}, unit, row_host)
            entry = found[name] = {"name": name, "unit": panels.unit_of(row), "hosts": []}
        entry["hosts"].append(row_host)
    return list(found.values()), False


def _is_server(row: panels.CatalogRow) -> bool:
    family = row.metric.split(".")[0]
    return family in panels.SERVER_KINDS and bool(row.labels.get("server") or family == "celery")


class DashboardLoginForm(AuthenticationForm):
    """Only users who may see the dashboard log in here: anyone else got a session and then a bare 403."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not may_view(user):
            raise ValidationError(_("This user may not see the dashboard."), code="no_dashboard")


class LoginView(auth_views.LoginView):
    """Sign-in for DASHBOARD_GROUP members who are not staff (the admin's login refuses them)."""

    form_class = DashboardLoginForm
    template_name = "dashboard/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "page": "login", "admin_login": login_url()}
