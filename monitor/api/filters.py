import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from monitor.models import Resource

from .serializers import to_utc


class UTCDateTimeField(IsoDateTimeField):
    """ISO 8601 with time zone, refused (400) when it has no UTC representation."""

    def clean(self, value):
        cleaned = super().clean(value)
        if cleaned is None:
            return None
        try:
            return to_utc(cleaned)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class ResourceFilter(django_filters.FilterSet):
    """Query parameters of the resource list; each maps onto the (name, host, timestamp) index."""

    name = django_filters.CharFilter(field_name="name", help_text="Exact metric name, e.g. cpu.percent")
    name_prefix = django_filters.CharFilter(
        field_name="name", lookup_expr="startswith", help_text="Metric name prefix, e.g. disk. for every disk metric"
    )
    host = django_filters.CharFilter(field_name="host", help_text="Exact host name")
    since = UTCDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="ISO 8601 time, inclusive, e.g. 2026-11-25T10:00:00Z"
    )
    until = UTCDateTimeFilter(field_name="timestamp", lookup_expr="lt", help_text="ISO 8601 time, exclusive")

    class Meta:
        model = Resource
        fields = ["name", "name_prefix", "host", "since", "until"]
