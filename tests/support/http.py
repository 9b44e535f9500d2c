"""The tests' HTTP clients: httpx's, verifying TLS as httpx does by default (certifi's CA
bundle), with one SSL context for the whole run. httpx builds a new context for every client,
reading the CA bundle each time (~40 ms of CPU); the tests made some 200 clients, 8 s in all."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import httpx

TLS = ssl.create_default_context(cafile=certifi.where())


def Client(**kwargs: Any) -> httpx.Client:  # noqa: N802 - stands in for httpx.Client
    return httpx.Client(verify=TLS, **kwargs)


def AsyncClient(**kwargs: Any) -> httpx.AsyncClient:  # noqa: N802 - stands in for httpx.AsyncClient
    return httpx.AsyncClient(verify=TLS, **kwargs)


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, url, verify=TLS, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)
