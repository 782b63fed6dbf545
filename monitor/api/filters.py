"""The query parameters that select samples and series: name, name_prefix, host, since, until."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from monitor.models import Series
from monitor.storage.instants import to_us

from .serializers import parse_time


@dataclass(frozen=True)
class SampleFilters:
    name: str | None = None
    name_prefix: str | None = None
    host: str | None = None
    since: int | None = None  # microseconds, inclusive
    until: int | None = None  # microseconds, exclusive

    @classmethod
    def from_params(cls, params, times: bool = True) -> "SampleFilters":
        """Read and check the parameters; a bad one is a 400 naming it."""
        errors: dict[str, list[str]] = {}
        values: dict = {}
        for key in ("name", "name_prefix", "host"):
            raw = params.get(key)
            if raw is not None and "\x00" in raw:
                errors[key] = [_("Null characters are not allowed.")]
            values[key] = raw
        if times:
            for key in ("since", "until"):
                raw = params.get(key)
                if raw is None or raw == "":
                    continue
                try:
                    # A '+' in a query string arrives as a space unless the client encoded it.
                    values[key] = to_us(parse_time(raw.strip().replace(" ", "+")))
                except ValueError as exc:
                    errors[key] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        return cls(**values)

    def series(self) -> QuerySet:
        return Series.objects.matching(name=self.name, name_prefix=self.name_prefix, host=self.host)

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


def filter_parameters(times: bool = True) -> list[OpenApiParameter]:
    """The filters as OpenAPI parameters, with examples a generated client or Postman can run as they are."""
    found = [
        OpenApiParameter("name", str, description="Exact metric name, e.g. cpu.percent"),
        OpenApiParameter(
            "name_prefix", str, description="Every metric whose name starts with it, e.g. disk. for every disk metric"
        ),
        OpenApiParameter("host", str, description="Exact host name"),
    ]
    if times:
        found += [
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601 time, inclusive"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601 time, exclusive"),
        ]
    return found
