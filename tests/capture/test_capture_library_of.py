"""Which HTTP library an object belongs to, when its classes' modules do not say."""

from __future__ import annotations

import httpx
import httpx2

from melious_impact.capture.wire import library_of


class _Rehomed(httpx.BaseTransport):
    """httpx's base class as the OpenAI SDK 2.x shows it: under another module's name."""


_Rehomed.__module__ = "openai._base_client"


class _UserTransport(_Rehomed):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, request=request)


_UserTransport.__module__ = "myapp.transports"


def test_a_subclass_of_a_rehomed_httpx_base_is_httpx() -> None:
    assert library_of(_UserTransport()) == "httpx"


def test_the_libraries_own_objects() -> None:
    assert library_of(httpx.HTTPTransport()) == "httpx"
    assert library_of(httpx2.HTTPTransport()) == "httpx2"
    assert library_of(httpx.Response(200)) == "httpx"
    assert library_of(httpx2.Response(200)) == "httpx2"


def test_a_duck_typed_object_defaults_to_httpx2() -> None:
    class Duck:
        def handle_request(self, request: object) -> object:
            return request

    assert library_of(Duck()) == "httpx2"
