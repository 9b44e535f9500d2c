"""Signed reply links: bound to milestone, occurrence and department, expiring, unforgeable."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from notifier.web.links import LinkError, LinkSigner

NOW = datetime(2025, 6, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner("0123456789abcdef-secret", "https://n.example.cn/", timedelta(days=30))


def test_url_round_trips_to_the_same_milestone_occurrence_and_department(signer):
    url = signer.url(42, date(2025, 6, 30), 7, NOW)
    assert url.startswith("https://n.example.cn/r/42-20250630-7-")
    link = signer.verify(url.rsplit("/", 1)[1], NOW + timedelta(days=29))
    assert (link.milestone_id, link.occurrence, link.department_id) == (42, date(2025, 6, 30), 7)


@pytest.mark.parametrize("field,value", [(0, "43"), (1, "20250930"), (2, "8"), (3, "9999999999")])
def test_changing_any_field_breaks_the_signature(signer, field, value):
    parts = signer.make(42, date(2025, 6, 30), 7, NOW).token.split("-", 4)
    parts[field] = value
    with pytest.raises(LinkError) as exc:
        signer.verify("-".join(parts), NOW)
    assert exc.value.reason == "forged"


def test_a_link_signed_with_another_secret_is_forged(signer):
    other = LinkSigner("another-secret-0123456789", "https://n.example.cn")
    with pytest.raises(LinkError, match="bad signature"):
        signer.verify(other.make(42, date(2025, 6, 30), 7, NOW).token, NOW)


@pytest.mark.parametrize("token", ["", "abc", "42-20250631-7-1800000000-" + "A" * 22, "42-20250630-7-1-short"])
def test_malformed_tokens_are_forged(signer, token):
    with pytest.raises(LinkError) as exc:
        signer.verify(token, NOW)
    assert exc.value.reason == "forged"


def test_link_expires_after_its_lifetime(signer):
    token = signer.make(42, date(2025, 6, 30), 7, NOW).token
    signer.verify(token, NOW + timedelta(days=30) - timedelta(seconds=1))
    with pytest.raises(LinkError) as exc:
        signer.verify(token, NOW + timedelta(days=30))
    assert exc.value.reason == "expired"


def test_empty_secret_is_refused():
    with pytest.raises(ValueError):
        LinkSigner("")
