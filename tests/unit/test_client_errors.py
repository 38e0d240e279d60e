"""Status objects and HTTP codes -> typed exceptions."""

import json

import pytest

from minikube_py.client import errors
from minikube_py.client.errors import raise_for_response


class FakeResponse:
    """Just what raise_for_response reads from a requests.Response."""

    def __init__(self, status_code, body=None, text=None):
        self.status_code = status_code
        self.text = text if text is not None else (json.dumps(body) if body is not None else "")

    def json(self):
        return json.loads(self.text)


def status(code, reason, message="m", **extra):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "code": code, "reason": reason, "message": message, **extra}


@pytest.mark.parametrize("code, reason, cls", [
    (400, "BadRequest", errors.BadRequest),
    (401, "Unauthorized", errors.Unauthorized),
    (403, "Forbidden", errors.Forbidden),
    (404, "NotFound", errors.NotFound),
    (409, "AlreadyExists", errors.AlreadyExists),
    (409, "Conflict", errors.Conflict),
    (410, "Expired", errors.Expired),
    (410, "Gone", errors.Expired),
    (422, "Invalid", errors.Invalid),
    (429, "TooManyRequests", errors.TooManyRequests),
    (500, "InternalError", errors.ServerError),
    (503, "ServiceUnavailable", errors.ServerError),
    (504, "Timeout", errors.ServerError),
    (409, "", errors.Conflict),          # no reason: fall back to the code
    (404, "SomethingNew", errors.NotFound),
    (502, "", errors.ServerError),
    (418, "", errors.ApiError),
])
def test_mapping(code, reason, cls):
    with pytest.raises(cls) as info:
        raise_for_response(FakeResponse(code, status(code, reason, "why")))
    err = info.value
    assert type(err) is cls
    assert isinstance(err, errors.ApiError)
    assert err.code == code
    assert err.status["message"] == "why"


def test_success_does_not_raise():
    for code in (200, 201, 202, 204):
        raise_for_response(FakeResponse(code, {"kind": "Pod"}))


def test_fields_and_details():
    body = status(422, "Invalid", "Pod \"x\" is invalid",
                  details={"name": "x", "kind": "pods",
                           "causes": [{"type": "FieldValueRequired", "field": "spec.containers"}]})
    with pytest.raises(errors.Invalid) as info:
        raise_for_response(FakeResponse(422, body))
    err = info.value
    assert err.reason == "Invalid"
    assert err.details["causes"][0]["field"] == "spec.containers"
    assert "is invalid" in str(err)


def test_non_status_body_uses_code():
    with pytest.raises(errors.NotFound) as info:
        raise_for_response(FakeResponse(404, text="<html>404 page not found</html>"))
    assert info.value.reason == "NotFound"
    assert "404 page" in info.value.message
    with pytest.raises(errors.ServerError):
        raise_for_response(FakeResponse(502, text=""))


def test_status_without_code_takes_http_code():
    body = {"kind": "Status", "reason": "Conflict", "message": "modified"}
    with pytest.raises(errors.Conflict) as info:
        raise_for_response(FakeResponse(409, body))
    assert info.value.code == 409


def test_error_from_status_for_watch_events():
    err = errors.error_from_status(status(410, "Expired", "too old resource version"))
    assert isinstance(err, errors.Expired) and err.code == 410
