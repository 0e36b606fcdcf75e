"""Deal values as agents type them in Chatwoot, pt-BR first."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.outcomes import DEAL_VALUE_MAX, deal_value_display, deal_value_parse


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("R$ 12.500,00", "12500.00"),
        ("R$12.500", "12500.00"),
        ("r$ 12.500,5", "12500.50"),
        ("R$\u00a01.250.000,00", "1250000.00"),
        ("12500,50", "12500.50"),
        ("12.500", "12500.00"),
        ("99.90", "99.90"),
        ("1,250,000.75", "1250000.75"),
        ("12,5 mil", "12500.00"),
        ("12k", "12000.00"),
        ("3 mi", "3000000.00"),
        ("2 milhões", "2000000.00"),
        (12500, "12500.00"),
        (99.9, "99.90"),
        ("0", "0.00"),
    ],
)
def test_a_value_typed_the_brazilian_way_or_any_common_way_is_read(typed, value):
    assert deal_value_parse(typed) == Decimal(value)


@pytest.mark.parametrize("typed", ["", "a combinar", "-5", "R$ -10,00", "12,5,0.0.0,0", "1e9", None, True, "9" * 20])
def test_what_is_not_a_value_in_reais_says_so(typed):
    with pytest.raises(ValueError):
        deal_value_parse(typed)


@given(st.decimals(min_value=0, max_value=DEAL_VALUE_MAX, places=2, allow_nan=False, allow_infinity=False))
def test_a_value_shown_as_brazilians_write_it_reads_back_the_same(value):
    assert deal_value_parse(deal_value_display(value)) == value
