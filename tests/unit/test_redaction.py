"""The one redactor shared by logging, the CLI and the channels' error reasons."""

from __future__ import annotations

from notifier import logging_setup
from notifier.delivery.channels import robot_common
from notifier.redaction import Redactor, public_url, url_secrets


def test_logging_and_the_channels_use_the_same_redactor_class() -> None:
    assert isinstance(logging_setup.redact, Redactor)
    assert robot_common.Redactor is Redactor


def test_a_channel_redactor_masks_its_values_and_credential_shaped_text_alike() -> None:
    redact = Redactor(["SECRET-XYZ-1", None, ""])
    out = redact("echo: SECRET-XYZ-1 webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= "
                 "https://h/x?token=abcdefgh")
    assert out == "echo: *** webhook-signature: v1,*** https://h/x?token=***"


def test_values_shorter_than_six_characters_are_not_masked_as_values() -> None:
    assert Redactor(["abcde", "send"])("send abcde") == "send abcde"


def test_url_secrets_lists_query_values_raw_and_decoded_and_the_whole_url() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=tok%2Bvalue99"
    found = url_secrets(url)
    assert {url, "access_token=tok%2Bvalue99", "tok%2Bvalue99", "tok+value99"} <= set(found)
    assert "send" not in found  # a word, not a token


def test_url_secrets_includes_the_last_segment_when_asked_or_when_it_is_token_long() -> None:
    assert "abcd-ef" in url_secrets("https://open.feishu.cn/open-apis/bot/v2/hook/abcd-ef", path_tail=True)
    assert "abcd-ef" not in url_secrets("https://open.feishu.cn/open-apis/bot/v2/hook/abcd-ef")
    assert "0123456789abcdef01" in url_secrets("https://oa.example.cn/hooks/0123456789abcdef01")


def test_url_secrets_includes_a_password_in_the_url() -> None:
    assert "pa55word" in url_secrets("https://user:pa55word@oa.example.cn/hook")


def test_public_url_drops_user_and_password() -> None:
    assert public_url("https://user:pa55word@oa.example.cn:8443/hook?x=1") == "https://oa.example.cn:8443/hook"
