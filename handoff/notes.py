"""The private note with the bot history that an agent reads first: readable, Liquid-safe, split to fit."""

from django.utils import timezone

from leads.models import Lead, Message
from leads.phones import phone_display

ZERO_WIDTH_SPACE = "\u200b"
SUMMARY_CHARS = 280


def note_marker(handoff_id, part: int, total: int) -> str:
    """Identifies a part, so a retry after a timeout can see whether the part was already posted.

    Inside backticks, where Chatwoot's Liquid rendering leaves text alone (D).
    """
    return f"`nexa-handoff:{handoff_id}:{part}/{total}`"


def escalation_marker(handoff_id, escalation: int) -> str:
    """Identifies an escalation's note, so a retry after a lost answer finds it instead of posting it again."""
    return f"`nexa-escalation:{handoff_id}:{escalation}`"


def liquid_safe(text: str) -> str:
    """D: outgoing content is rendered as Liquid; a zero-width space keeps {{ }} and {% %} literal."""
    for pair in ("{{", "{%", "}}", "%}"):
        text = text.replace(pair, pair[0] + ZERO_WIDTH_SPACE + pair[1])
    return text


def note_parts(
    *,
    handoff_id,
    lead: Lead,
    messages: list[Message],
    score: int | None,
    max_chars: int,
    returning: str = "",
    warning: str = "",
    sample: bool = False,
) -> list[str]:
    """The note as one or more parts, each at most `max_chars` with its marker; nothing is cut off.

    `returning` says what happened before a returning lead's earlier handoff (its messages are those since);
    `warning` is what the agent must know before answering; `sample`: a lead of the calibration sample. Sizes are
    measured on the Liquid-safe text; a message longer than a part continues in the next one.
    """
    budget = max_chars - 80  # room for the marker and the continuation heading
    header = _header(lead, messages, score, returning, sample)
    if warning:
        header = f"⚠️ **{warning}**\n\n{header}"
    header = liquid_safe(header)[: budget - 40]
    lines = [liquid_safe(_line(message)) for message in messages] or ["_Sem mensagens registradas._"]
    pieces = [line[start : start + budget] for line in lines for start in range(0, len(line), budget)]
    chunks: list[list[str]] = [[header, "", "**Transcrição**", ""]]
    size = sum(len(text) + 1 for text in chunks[0])
    for piece in pieces:
        if size + len(piece) + 1 > budget:
            chunks.append(["**Transcrição (continuação)**", ""])
            size = sum(len(text) + 1 for text in chunks[-1])
        chunks[-1].append(piece)
        size += len(piece) + 1
    total = len(chunks)
    return [
        "\n".join(chunk) + "\n\n" + note_marker(handoff_id, index, total) for index, chunk in enumerate(chunks, start=1)
    ]


def _header(lead: Lead, messages: list[Message], score: int | None, returning: str, sample: bool) -> str:
    title = "**Lead qualificado pelo Atlas Nexa**"
    if returning:
        title = "**O lead voltou a escrever**"
    elif sample:
        title = (
            "**Amostra de calibração do Atlas Nexa**: nota logo abaixo do limiar, enviado ao acaso para medir quantos "
            "destes leads fecham. Atenda como qualquer outro."
        )
    rows = [
        title,
        *([f"**Antes:** {returning}"] if returning else []),
        f"**Nota:** {score}/10" if score is not None else "**Nota:** sem nota",
        f"**Nome:** {lead.name or 'sem nome'}",
        f"**Telefone:** {phone_display(lead.phone)}",
    ]
    if lead.email:
        rows.append(f"**E-mail:** {lead.email}")
    if lead.interest:
        rows.append(f"**Interesse:** {lead.interest}")
    rows.append(f"**Resumo:** {_summary(messages)}")
    return "\n".join(rows)


def _summary(messages: list[Message]) -> str:
    if not messages:
        return "o lead ainda não trocou mensagens com o bot."
    first, last = (timezone.localtime(m.created_at) for m in (messages[0], messages[-1]))
    from_lead = [m for m in messages if m.sender == Message.Sender.LEAD]
    text = f"{len(messages)} mensagens entre {first:%d/%m %H:%M} e {last:%d/%m %H:%M}."
    if from_lead:
        quote = " ".join(from_lead[-1].content.split())
        quote = quote if len(quote) <= SUMMARY_CHARS else quote[: SUMMARY_CHARS - 1] + "…"
        text += f" Última mensagem do lead: “{quote}”"
    return text


def _line(message: Message) -> str:
    when = timezone.localtime(message.created_at)
    content = message.content.replace("\n", "  \n")  # Markdown hard breaks keep the lead's line breaks
    return f"**{message.get_sender_display()}** ({when:%d/%m %H:%M}): {content}"
