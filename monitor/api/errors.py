from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus 413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django says 400)."""
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return Response(
            {"detail": f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return drf_exception_handler(exc, context)


def not_found(request, exception=None):
    """JSON 404s under /monitor/ (an API client cannot read Django's HTML page)."""
    if request.path.startswith("/monitor/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/monitor/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
