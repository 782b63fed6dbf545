import django_filters

from .models import Resource


class ResourceFilter(django_filters.FilterSet):
    """Query parameters of the resource list; each maps onto the (name, host, timestamp) index."""

    name = django_filters.CharFilter(field_name="name", help_text="Exact metric name, e.g. cpu.percent")
    name_prefix = django_filters.CharFilter(
        field_name="name", lookup_expr="startswith", help_text="Metric name prefix, e.g. disk. for every disk metric"
    )
    host = django_filters.CharFilter(field_name="host", help_text="Exact host name")
    since = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="ISO 8601 time, inclusive, e.g. 2026-11-25T10:00:00Z"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="lt", help_text="ISO 8601 time, exclusive"
    )

    class Meta:
        model = Resource
        fields = ["name", "name_prefix", "host", "since", "until"]
