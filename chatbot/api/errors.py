"""One error shape for the whole API: `{"error": code, "detail": text}`, and for invalid input also
`"errors": [{"field": "title", "reason": "This field is required."}, ...]`."""

from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": "invalid",
            "detail": "The request is invalid.",
            "errors": list(field_errors(exc.detail)),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {"error": _code(exc), "detail": str(detail)}
    return response


def field_errors(detail, path: str = ""):
    """Flatten DRF's nested error detail into (field path, reason) pairs."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # an item of a list field
                yield from field_errors(value, f"{path}[{key}]")
                continue
            name = "" if key == "non_field_errors" else str(key)
            yield from field_errors(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            for reason in detail:
                yield {"field": path, "reason": str(reason)}
        else:
            for index, item in enumerate(detail):
                yield from field_errors(item, f"{path}[{index}]")
    else:
        yield {"field": path, "reason": str(detail)}


def _code(exc) -> str:
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    return codes if isinstance(codes, str) else "error"
