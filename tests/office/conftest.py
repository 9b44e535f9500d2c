from __future__ import annotations

import pytest

from tests.office.kit import cheap_argon2, start_office

_ = cheap_argon2  # re-exported: pytest finds fixtures by name in conftest


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_argon2):  # noqa: ANN001, ANN202
    return None


@pytest.fixture
def office(tmp_path):  # noqa: ANN001, ANN201
    o = start_office(tmp_path)
    yield o
    o.server.stop()
