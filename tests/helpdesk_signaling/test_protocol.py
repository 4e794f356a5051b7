"""The protocol models against the shared examples (the browser client tests use the same file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpdesk_signaling.errors import ERROR_CODES, ProtocolError
from helpdesk_signaling.protocol import (
    CLIENT_MODELS,
    SERVER_TYPES,
    MediaState,
    OfferAccept,
    Signal,
    SignalRelay,
    dump,
    parse_client_message,
    relay_of,
    server_adapter,
)

EXAMPLES = json.loads((Path(__file__).parents[2] / "signaling/helpdesk_signaling/examples.json").read_text())
LIMIT = 64 * 1024


def test_every_type_has_an_example() -> None:
    assert {e["type"] for e in EXAMPLES["client"].values()} == set(CLIENT_MODELS)
    assert {e["type"] for e in EXAMPLES["server"].values()} == set(SERVER_TYPES)


@pytest.mark.parametrize("name", sorted(EXAMPLES["client"]))
def test_client_examples_parse_and_round_trip(name: str) -> None:
    example = EXAMPLES["client"][name]
    msg = parse_client_message(json.dumps(example), LIMIT)
    assert msg.type == example["type"]
    assert msg.model_dump(mode="json", exclude_unset=True) | {"type": msg.type} == example


@pytest.mark.parametrize("name", sorted(EXAMPLES["server"]))
def test_server_examples_validate_and_dump_identically(name: str) -> None:
    example = EXAMPLES["server"][name]
    msg = server_adapter.validate_python(example)
    # null optionals are left out, except `candidate: null` (end of candidates), which is the message
    assert json.loads(dump(msg)) == {k: v for k, v in example.items() if v is not None or k == "candidate"}


@pytest.mark.parametrize("case", EXAMPLES["invalid"], ids=lambda c: c["raw"][:30])
def test_invalid_examples_give_their_code(case: dict[str, str]) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(case["raw"], LIMIT)
    assert info.value.code == case["code"]
    assert info.value.code in ERROR_CODES


def test_too_large_is_checked_before_parsing() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message("x" * (LIMIT + 1), LIMIT)
    assert info.value.code == "too_large"


def test_sdp_is_bounded_and_the_error_does_not_echo_it() -> None:
    raw = json.dumps({"type": "signal", "room": "r1", "description": {"type": "offer", "sdp": "a" * 40000}})
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw, LIMIT)
    assert info.value.code == "invalid_message" and info.value.ref == "signal"
    assert "aaaa" not in info.value.message and len(info.value.message) < 300


def test_unknown_type_refers_to_it_and_bytes_are_accepted() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(b'{"type": "teleport"}', LIMIT)
    assert (info.value.code, info.value.ref) == ("unknown_type", "teleport")
    with pytest.raises(ProtocolError) as bad:
        parse_client_message(b"\xff\xfe", LIMIT)
    assert bad.value.code == "bad_json"


def test_numeric_ticket_becomes_a_string() -> None:
    msg = parse_client_message('{"type": "offer.accept", "ticket": 17}', LIMIT)
    assert isinstance(msg, OfferAccept) and msg.ticket == "17"


def test_relay_keeps_end_of_candidates_and_renames_from() -> None:
    end = parse_client_message(json.dumps(EXAMPLES["client"]["signal.end-of-candidates"]), LIMIT)
    assert isinstance(end, Signal)
    relayed = relay_of(end, "a:1")
    assert isinstance(relayed, SignalRelay)
    assert json.loads(dump(relayed)) == {"type": "signal", "room": "r-7f3a", "from": "a:1", "candidate": None}
    media = parse_client_message(json.dumps(EXAMPLES["client"]["media.state"]), LIMIT)
    assert isinstance(media, MediaState)
    assert json.loads(dump(relay_of(media, "s:2")))["from"] == "s:2"


def test_annotate_relay_sets_by_from_the_role_and_keeps_the_mark() -> None:
    """A mark's `by` (its colour on the other side) comes from the sender's role, not from the client."""
    from helpdesk_signaling.protocol import Annotate, relay_of

    msg = parse_client_message('{"type": "annotate", "room": "r1", "to": "s:2", "mark": {"kind": "free", '
                               '"owner": "a:1", "points": [[0.1, 0.2], [0.3, 0.4]], "by": "agent"}}', 64 * 1024)
    assert isinstance(msg, Annotate) and msg.to == "s:2"
    out = json.loads(dump(relay_of(msg, "a:1", "applicant")))
    assert out == {"type": "annotate", "room": "r1", "from": "a:1", "mark": {
        "kind": "free", "id": "", "target": "screen", "owner": "a:1", "points": [[0.1, 0.2], [0.3, 0.4]],
        "pinned": False, "by": "applicant"}}
