"""A deal's value as an agent types it in Chatwoot (pt-BR first: "R$ 12.500,00", "12,5 mil"), read into a Decimal."""

import re
from decimal import Decimal, InvalidOperation

DEAL_VALUE_MAX = Decimal("999999999999.99")  # what the column holds
_MULTIPLIERS = {"mil": 1_000, "k": 1_000, "mi": 1_000_000, "milhão": 1_000_000, "milhões": 1_000_000}
_NUMBER = re.compile(r"^(?P<number>[\d.,]+)\s*(?P<suffix>mil|k|mi|milhão|milhões)?$")


def deal_value_parse(raw) -> Decimal:
    """The value in reais, rounded to cents. ValueError says why when it cannot be read.

    A number (JSON) is taken as is. In text, with both separators the last one is the decimal one ("12.500,00",
    "12,500.00"); a lone comma is decimal (pt-BR: "12500,5"); dots alone are thousands when they group three digits
    ("12.500", "1.250.000"), else decimal ("99.90"); several commas are thousands ("1,250,000").
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError("sem valor")
    if isinstance(raw, int | float):
        return _checked(Decimal(str(raw)))
    text = str(raw).strip().lower().removeprefix("r$")
    match = _NUMBER.fullmatch(re.sub(r"\s", "", text))  # spaces, a no-break one included
    if not match:
        raise ValueError(f"não é um valor em reais: {raw!r}")
    number, suffix = match["number"], match["suffix"]
    try:
        value = Decimal(_plain(number))
    except InvalidOperation:
        raise ValueError(f"não é um valor em reais: {raw!r}") from None
    return _checked(value * _MULTIPLIERS.get(suffix or "", 1))


def _plain(number: str) -> str:
    """The digits with "." as the decimal point."""
    if "," in number and "." in number:
        decimal_mark = "," if number.rfind(",") > number.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        return number.replace(thousands, "").replace(decimal_mark, ".")
    if "," in number:
        return number.replace(",", "") if number.count(",") > 1 else number.replace(",", ".")
    if number.count(".") > 1 or re.fullmatch(r"\d{1,3}\.\d{3}", number):
        return number.replace(".", "")
    return number


def _checked(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value > DEAL_VALUE_MAX:
        raise ValueError(f"fora do intervalo: {value}")
    return value.quantize(Decimal("0.01"))


def deal_value_display(value: Decimal) -> str:
    """R$ 12.500,00, as Brazilians write it."""
    return "R$ " + f"{value:,.2f}".replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
