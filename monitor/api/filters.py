"""The query parameters that select samples and series: name, name_prefix, host, since, until."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from monitor.models import Series
from monitor.storage.instants import to_us

from .schemas import EXAMPLE_HOST, EXAMPLE_NAME, example, time_parameter
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

    def series(self, bounded: bool = True) -> QuerySet:
        """The catalog rows these filters select; more than API_MAX_SERIES is a 400 asking to narrow them.

        The bound keeps every read proportional to what a client can use: a
        list page or a latest answer over more series than that would take
        longer than a request may (DATABASE_STATEMENT_TIMEOUT, gunicorn's timeout).
        `bounded=False` leaves the check to a caller that reads at most the
        bound anyway (`latest`) and raises `too_many()` itself.
        """
        rows = Series.objects.matching(name=self.name, name_prefix=self.name_prefix, host=self.host)
        if bounded and rows[: settings.API_MAX_SERIES + 1].count() > settings.API_MAX_SERIES:
            raise self.too_many()
        return rows

    @staticmethod
    def too_many() -> ValidationError:
        return over_the_bound("series", "host, name or name_prefix")

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


def over_the_bound(what: str, filters: str) -> ValidationError:
    """The 400 for a read selecting more than API_MAX_SERIES rows: it names the bound and the filters to narrow by."""
    limit = settings.API_MAX_SERIES
    return ValidationError({"detail": [f"More than {limit} {what} match (API_MAX_SERIES): filter by {filters}."]})


def filter_parameters(times: bool = True) -> list[OpenApiParameter]:
    """The filters as OpenAPI parameters, with examples a generated client or Postman can run as they are."""
    found = [
        OpenApiParameter(
            "name", str, description="Exact metric name, e.g. cpu.percent", examples=example(EXAMPLE_NAME)
        ),
        OpenApiParameter(
            "name_prefix",
            str,
            description="Every metric whose name starts with it, e.g. disk. for every disk metric",
            examples=example(EXAMPLE_NAME.split(".")[0] + "."),
        ),
        OpenApiParameter("host", str, description="Exact host name", examples=example(EXAMPLE_HOST)),
    ]
    if times:
        found += [
            time_parameter("since", "ISO 8601 time, inclusive", "2026-11-25T00:00:00Z"),
            time_parameter("until", "ISO 8601 time, exclusive", "2026-11-26T00:00:00Z"),
        ]
    return found
