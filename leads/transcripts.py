"""Reading the bot history Atlas Nexa sends as text ("Bot: …\nLead: …") into messages."""

import re

from leads.models import Message

# Speaker names Atlas Nexa and its operators write, in Portuguese and English.
SPEAKERS = {
    "bot": Message.Sender.BOT,
    "atlas": Message.Sender.BOT,
    "atlas nexa": Message.Sender.BOT,
    "assistente": Message.Sender.BOT,
    "assistant": Message.Sender.BOT,
    "ia": Message.Sender.BOT,
    "lead": Message.Sender.LEAD,
    "cliente": Message.Sender.LEAD,
    "usuário": Message.Sender.LEAD,
    "usuario": Message.Sender.LEAD,
    "user": Message.Sender.LEAD,
}
_LINE = re.compile(r"^\s*(?:\[[^\]]{1,40}\]\s*)?(?P<speaker>[^:\n]{1,30}?)\s*:\s?(?P<content>.*)$")


class TranscriptError(ValueError):
    """The text is not a transcript with one speaker per line."""


def transcript_parse(text: str) -> list[tuple[str, str]]:
    """(sender, content) pairs in order; a line with no known speaker continues the previous message."""
    messages: list[tuple[str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        sender = SPEAKERS.get(match["speaker"].strip().lower()) if match else None
        if sender is not None:
            messages.append((sender, [match["content"]]))
        elif messages:
            messages[-1][1].append(line)
        elif line.strip():
            raise TranscriptError(
                f"A linha {number} não começa com um interlocutor conhecido (por exemplo 'Bot:' ou 'Lead:')."
            )
    pairs = [(sender, "\n".join(lines).strip()) for sender, lines in messages]
    return [(sender, content) for sender, content in pairs if content]
