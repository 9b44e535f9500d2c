"""The office tests: every test hashes with cheap argon2 parameters; ``office`` is the served app."""

from __future__ import annotations

import pytest

from tests.office.kit import cheap_argon2, start_office  # noqa: F401 - cheap_argon2 is a fixture


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_argon2):  # noqa: ANN001, ANN202, F811
    return None


@pytest.fixture
def office(tmp_path):  # noqa: ANN001, ANN201
    o = start_office(tmp_path)
    yield o
    o.stop()
