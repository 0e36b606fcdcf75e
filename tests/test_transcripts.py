"""Reading Atlas's text bot history."""

import pytest

from leads.transcripts import TranscriptError, transcript_parse


def test_one_speaker_per_line():
    assert transcript_parse("Bot: Olá!\nLead: Oi, quero um orçamento.") == [
        ("bot", "Olá!"),
        ("lead", "Oi, quero um orçamento."),
    ]


def test_a_line_without_speaker_continues_the_previous_message():
    assert transcript_parse("Lead: Para a loja.\nA conta é alta.\n\nBot: Entendi") == [
        ("lead", "Para a loja.\nA conta é alta."),
        ("bot", "Entendi"),
    ]


def test_speaker_names_are_case_insensitive_and_portuguese_aliases_work():
    assert transcript_parse("ATLAS: oi\ncliente: olá\nUsuário: tudo bem?") == [
        ("bot", "oi"),
        ("lead", "olá"),
        ("lead", "tudo bem?"),
    ]


def test_a_colon_inside_a_message_is_content():
    assert transcript_parse("Bot: Horário: das 8h às 18h") == [("bot", "Horário: das 8h às 18h")]


def test_bracketed_times_before_the_speaker_are_skipped():
    assert transcript_parse("[14:02] Lead: oi") == [("lead", "oi")]


def test_text_before_any_speaker_is_an_error_naming_the_line():
    with pytest.raises(TranscriptError, match="linha 2"):
        transcript_parse("\nFulano: oi\nBot: olá")


def test_empty_messages_are_dropped():
    assert transcript_parse("Bot:\nLead: oi") == [("lead", "oi")]
