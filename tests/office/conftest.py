"""The office tests: every test hashes with cheap argon2 parameters; ``office`` is the served app."""

from __future__ import annotations

import pytest

from tests.support.office import start_office



@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_argon2):  # noqa: ANN001, ANN202
    return None


@pytest.fixture
def office(tmp_path):  # noqa: ANN001, ANN201
    o = start_office(tmp_path)
    yield o
    o.stop()
