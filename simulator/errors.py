"""The error answer: ApiError and the body every error is sent with."""

import time

from .util import iso

ERROR_CODES = {
    400: ("INVALID_PARAMETER", "Bad Request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    402: ("PAYMENT_REQUIRED", "Payment Required"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    405: ("METHOD_NOT_ALLOWED", "Method Not Allowed"),
    408: ("REQUEST_TIMEOUT", "Request Timeout"),
    409: ("CONFLICT", "Conflict"),
    413: ("PAYLOAD_TOO_LARGE", "Payload Too Large"),
    422: ("UNPROCESSABLE_ENTITY", "Unprocessable Entity"),
    429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
    501: ("NOT_IMPLEMENTED", "Not Implemented"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}

REASONS = {269: "Dry Run"}


class ApiError(Exception):
    """An error answer: status, message and optional details."""

    def __init__(self, status, message, code=None, infos=None, headers=None,
                 details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.infos = infos or {}
        self.headers = headers or {}
        self.details = details


def error_body(status, message, request_id, code=None, infos=None, details=None):
    """The simulator's error body: both documented shapes plus the spec's
    InternalServerErrorResponse required fields (apiError, error, id, infos,
    createdAt, updatedAt)."""
    dcode, reason = ERROR_CODES.get(status, ("ERROR", "Error"))
    now = iso(time.time())
    body = {
        "status": "error",
        "statusCode": status,
        "code": code or dcode,
        "error": reason,
        "message": message,
        "apiError": code or dcode,
        "id": request_id,
        "requestId": request_id,
        "infos": infos or {},
        "createdAt": now,
        "updatedAt": now,
    }
    if details is not None:
        body["details"] = details
    return body
