"""Phone identity: E.164 normalisation and the Brazilian 9th-digit twin."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.phones import InvalidPhone, phone_display, phone_identity, phone_parse, phone_twin

AREA_CODES = st.sampled_from(["11", "21", "31", "41", "51", "61", "71", "81", "85", "92"])


@pytest.mark.parametrize(
    "raw",
    [
        "+55 11 98765-4321",
        "(11) 98765-4321",
        "11987654321",
        "011 98765-4321",
        "5511987654321",
        "+55 (11) 9 8765-4321",
        "5511987654321@s.whatsapp.net",
        "0 21 11 98765-4321",
    ],
)
def test_common_spellings_normalise_to_one_e164(raw):
    assert phone_parse(raw).e164 == "+5511987654321"


def test_mobile_and_its_9th_digit_twin_share_identity():
    with_nine = phone_parse("(11) 98765-4321")
    without_nine = phone_parse("+55 11 8765-4321")
    assert without_nine.e164 == "+551187654321"
    assert with_nine.identity == without_nine.identity == "+5511987654321"
    assert with_nine.twin == without_nine.e164
    assert without_nine.twin == with_nine.e164


@pytest.mark.parametrize("raw", ["(11) 3456-7890", "+55 21 2555-1234", "(51) 5222-1100", "(31) 3222-0001"])
def test_landlines_have_no_twin_and_keep_their_identity(raw):
    phone = phone_parse(raw)
    assert phone.twin is None
    assert phone.identity == phone.e164


def test_nine_followed_by_landline_digits_is_not_paired_with_the_landline():
    # 9 3456-7890 minus its 9 would be the landline 3456-7890: a different line, never merged.
    assert phone_parse("(11) 93456-7890").twin is None
    assert phone_identity("+551134567890") != phone_identity("+5511934567890")


@pytest.mark.parametrize("raw", ["(91) 99352-94744", "(20) 96152-4493", "919935294744"])
def test_a_mistyped_brazilian_number_is_refused_not_read_as_foreign(raw):
    with pytest.raises(InvalidPhone):
        phone_parse(raw)


def test_international_prefix_00_is_understood():
    assert phone_parse("00 1 415 555 2671").e164 == "+14155552671"


def test_foreign_numbers_are_kept_and_never_paired():
    phone = phone_parse("+1 415 555 2671")
    assert phone.e164 == "+14155552671"
    assert phone.twin is None


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12345", "11 2345-678", "98765-4321", "+55 11 98765-4321 ramal 2"])
def test_unusable_phones_are_rejected(raw):
    with pytest.raises(InvalidPhone):
        phone_parse(raw)


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+5511987654321", "+55 11 98765-4321"),
        ("+553188776655", "+55 31 8877-6655"),  # legacy 8-digit mobile
        ("+551134567890", "+55 11 3456-7890"),
        ("+14155552671", "+1 415-555-2671"),
    ],
)
def test_display_is_international_format(e164, shown):
    assert phone_display(e164) == shown


@given(area=AREA_CODES, number=st.integers(min_value=60_000_000, max_value=99_999_999))
def test_every_mobile_is_found_by_either_spelling(area, number):
    with_nine = phone_parse(f"+55{area}9{number}")
    without_nine = phone_parse(f"+55{area}{number}")
    assert with_nine.identity == without_nine.identity
    assert phone_twin(phone_twin(with_nine.e164)) == with_nine.e164


@given(area=AREA_CODES, number=st.integers(min_value=20_000_000, max_value=59_999_999))
def test_no_landline_is_ever_paired(area, number):
    landline = phone_parse(f"+55{area}{number}")
    assert landline.twin is None
    assert landline.identity == landline.e164


@given(area=AREA_CODES, number=st.integers(min_value=60_000_000, max_value=99_999_999))
def test_parsing_is_idempotent(area, number):
    phone = phone_parse(f"({area}) 9{number}")
    assert phone_parse(phone.e164) == phone
