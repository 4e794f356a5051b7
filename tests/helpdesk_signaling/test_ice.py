"""TURN REST credentials against a value computed by hand with openssl."""

from __future__ import annotations

from helpdesk_signaling.ice import ice_servers, turn_credentials

# echo -n "1795917600:a:5d1e" | openssl dgst -sha1 -hmac "north-wind-42" -binary | base64
EXPECTED = "hK3EwfTyo0Sqfl+PmmW+mdkv4ho="


def test_turn_credentials_match_openssl() -> None:
    assert turn_credentials("north-wind-42", "a:5d1e", 1795917600) == ("1795917600:a:5d1e", EXPECTED)


def test_ice_servers_stun_and_turn_with_expiry_from_ttl() -> None:
    servers = ice_servers(stun_urls=["stun:stun.example:3478"], turn_urls=["turn:turn.example:3478"],
                          turn_secret="north-wind-42", ttl_s=3600, user="a:5d1e", now=1795914000.7)
    assert servers == [
        {"urls": ["stun:stun.example:3478"]},
        {"urls": ["turn:turn.example:3478"], "username": "1795917600:a:5d1e", "credential": EXPECTED},
    ]


def test_no_turn_without_secret_and_nothing_configured() -> None:
    assert ice_servers(stun_urls=[], turn_urls=["turn:t:3478"], turn_secret=None, ttl_s=60, user="s:1",
                       now=0) == []
