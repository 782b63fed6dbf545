import math

from rest_framework import serializers

from .models import Resource


class FiniteFloatField(serializers.FloatField):
    """A float that must be finite: NaN, Infinity and overflow (1e400) are refused.

    MySQL cannot store them, and some DRF releases pass the string forms
    ("NaN", "1e400") through to the database, which then answers with a 500.
    """

    default_error_messages = {"not_finite": "Must be a finite number (not NaN or Infinity)."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


class ResourceSerializer(serializers.ModelSerializer):
    value = FiniteFloatField()

    class Meta:
        model = Resource
        fields = ["id", "name", "value", "description", "timestamp", "host"]
        read_only_fields = ["id"]
