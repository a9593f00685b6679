"""What a message or a group name may hold: no control characters but line breaks and tabs (none
at all in a name), something visible, and the codes that say which rule was broken."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cruddur.messaging import services
from cruddur.messaging.errors import InvalidInput

from .conftest import codes

# Control characters a message may not hold, picked from the whole Cc range (C0, DEL, C1).
FORBIDDEN_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, 0x0D, 0x1B, 0x7F, 0x85)]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u00ad"]


def refusal(clean, text) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        clean(text)
    return codes(refused)


@pytest.mark.parametrize("control", FORBIDDEN_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_control_character_anywhere_in_a_message_is_refused(control):
    assert refusal(services.clean_message, control) == ["message_invalid_characters"]
    assert refusal(services.clean_message, f"hello {control} there") == [
        "message_invalid_characters"
    ]


def test_an_escape_sequence_is_refused_not_stored():
    assert refusal(services.clean_message, "\x1b[2J\x1b[31mgotcha") == [
        "message_invalid_characters"
    ]


def test_a_lone_surrogate_is_refused():
    assert refusal(services.clean_message, "half a \ud83d") == ["message_invalid_characters"]


@pytest.mark.parametrize("invisible", INVISIBLE, ids=lambda c: unicodedata.name(c))
def test_only_whitespace_and_format_characters_is_blank(invisible):
    assert refusal(services.clean_message, invisible * 3) == ["message_blank"]
    assert refusal(services.clean_message, f" {invisible}\n\t{invisible} ") == ["message_blank"]


def test_line_breaks_and_tabs_stay_and_a_form_s_crlf_becomes_lf():
    assert services.clean_message("one\r\n\ttwo\nthree") == "one\n\ttwo\nthree"


def test_a_format_character_beside_visible_text_is_kept():
    # zero-width joiners are part of emoji sequences and scripts: only text made of nothing else
    # is blank
    family = "\N{MAN}\u200d\N{WOMAN}\u200d\N{GIRL}"
    assert services.clean_message(family) == family


_VISIBLE = st.characters(
    blacklist_categories=("Cc", "Cs", "Cf", "Zs", "Zl", "Zp"), blacklist_characters="\x85"
)
_ANY = st.characters(blacklist_categories=("Cs",))


@given(st.text(_ANY, max_size=60))
def test_any_text_is_refused_with_one_code_or_stored_clean(text):
    try:
        stored = services.clean_message(text)
    except InvalidInput as refused:
        assert len(refused.codes) == 1
        assert refused.codes[0] in {
            "message_invalid_characters",
            "message_blank",
            "message_exceed_max_chars",
        }
        return
    assert stored == stored.strip()
    assert all(unicodedata.category(c) != "Cc" or c in "\n\t" for c in stored), (
        "a control character was stored"
    )
    assert any(not c.isspace() and unicodedata.category(c) != "Cf" for c in stored)


@given(st.text(_VISIBLE, min_size=1, max_size=40), st.sampled_from(FORBIDDEN_CONTROLS))
def test_one_control_character_spoils_any_visible_text(text, control):
    spoiled = text[: len(text) // 2] + control + text[len(text) // 2 :]
    assert refusal(services.clean_message, spoiled) == ["message_invalid_characters"]


# --- group names: the same rules, on one line ---------------------------------------------------


@pytest.mark.parametrize("control", [*FORBIDDEN_CONTROLS, "\n", "\t"], ids=repr)
def test_a_group_name_holds_no_control_character(control):
    name = f"crew{control}ship"
    assert refusal(services.clean_group_name, name) == ["group_name_invalid_characters"]
    with pytest.raises(InvalidInput) as refused:
        services.clean_group_request(name, ["bayko"])
    assert codes(refused) == ["group_name_invalid_characters"]


@pytest.mark.parametrize("name", ["\u200b", " \ufeff\u200b ", "\u2060\u00ad"])
def test_a_group_name_of_invisible_characters_is_blank(name):
    assert refusal(services.clean_group_name, name) == ["group_name_blank"]
    with pytest.raises(InvalidInput) as refused:
        services.clean_group_request(name, ["bayko"])
    assert codes(refused) == ["group_name_blank"]


def test_a_visible_group_name_is_trimmed():
    assert services.clean_group_name("  the crew \u200b ") == "the crew \u200b"
