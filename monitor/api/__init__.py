"""The REST API: views, serializers, paging, filters, authentication, throttling, errors."""
