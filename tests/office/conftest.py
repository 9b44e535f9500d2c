from __future__ import annotations

import pytest

from tests.office.kit import start_office


@pytest.fixture
def office(tmp_path):  # noqa: ANN001, ANN201
    o = start_office(tmp_path)
    yield o
    o.server.stop()
