"""Phone identity: E.164 normalisation and the Brazilian 9th-digit twin (one lead, two spellings)."""

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings

_BRAZIL = "55"
_JID_SUFFIX = re.compile(r"@(s\.whatsapp\.net|c\.us)$", re.IGNORECASE)


class InvalidPhone(ValueError):
    """The text is not a phone number we can reach."""


@dataclass(frozen=True)
class Phone:
    e164: str
    identity: str  # the same for a Brazilian mobile and its 9th-digit twin
    twin: str | None

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.e164, self.twin) if self.twin else (self.e164,)


def phone_twin(e164: str) -> str | None:
    """The other spelling of a Brazilian mobile, or None (landlines and foreign numbers have no twin).

    Mobiles gained a leading 9 in 2012–2016, and WhatsApp still reports some accounts in the old
    8-digit form. An 8-digit local number starting 2–5 is a landline and is never paired: pairing
    9 + 2xxx-xxxx with a landline would merge two different people.
    """
    if not e164.startswith("+" + _BRAZIL):
        return None
    national = e164[3:]
    area, local = national[:2], national[2:]
    if len(local) == 9 and local[0] == "9" and local[1] in "6789":
        return f"+{_BRAZIL}{area}{local[1:]}"
    if len(local) == 8 and local[0] in "6789":
        return f"+{_BRAZIL}{area}9{local}"
    return None


def phone_identity(e164: str) -> str:
    """The key two spellings of one line share: the 9-digit form for a Brazilian mobile."""
    twin = phone_twin(e164)
    if twin and len(twin) > len(e164):
        return twin
    return e164


def phone_parse(raw: str, region: str | None = None) -> Phone:
    """Parse a phone written in any common format ("(11) 98765-4321", "5511987654321", a WhatsApp JID)."""
    text = _JID_SUFFIX.sub("", (raw or "").strip())
    if not text:
        raise InvalidPhone("Informe um número de telefone.")
    if re.search(r"[^\d\s()+\-./]", text):
        raise InvalidPhone("O telefone só pode conter dígitos, espaços e + ( ) - . /")
    region = region or settings.PHONE_DEFAULT_REGION
    e164 = _parse_e164(text, region)
    if e164 is None:
        e164 = _parse_e164(_international_guess(text, region), region)
    if e164 is None:
        raise InvalidPhone("Informe um telefone válido, com DDD.")
    return Phone(e164=e164, identity=phone_identity(e164), twin=phone_twin(e164))


def _international_guess(text: str, region: str) -> str:
    """The number read as international, only where the writer clearly meant it.

    WhatsApp and many CRMs write the home country code without a plus ("5511987654321"), and
    "00" is the international prefix. Anything else stays national: a mistyped Brazilian number
    must be refused, never accepted as some other country's.
    """
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return ""
    if digits.startswith("00"):
        return "+" + digits[2:]
    home = str(phonenumbers.country_code_for_region(region))
    if digits.startswith(home) and "(" not in text:
        return "+" + digits
    return ""


def phone_display(e164: str) -> str:
    """A human spelling, e.g. "+55 11 98765-4321"; the input back if it cannot be parsed."""
    national = e164[3:]
    if e164.startswith("+" + _BRAZIL) and national.isdigit() and len(national) in (10, 11):
        # Written by hand so the legacy 8-digit mobile form, invalid to phonenumbers, reads the same way.
        area, local = national[:2], national[2:]
        return f"+55 {area} {local[:-4]}-{local[-4:]}"
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _parse_e164(text: str, region: str) -> str | None:
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return e164
    # The legacy 8-digit mobile form is no longer valid in the numbering plan, but WhatsApp uses it.
    twin = phone_twin(e164)
    if twin and len(twin) > len(e164) and phonenumbers.is_valid_number(phonenumbers.parse(twin, None)):
        return e164
    return None
