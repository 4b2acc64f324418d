"""VAT identifiers by format: every EU member state and Bosnia and Herzegovina."""

from __future__ import annotations

import pytest

from storage.vat import _VAT, InvalidVat, normalize_vat, vat_format


@pytest.mark.parametrize("country", sorted(_VAT))
def test_each_countrys_own_example_fits_its_format(country: str) -> None:
    example = vat_format(country).split()[-1]  # type: ignore[union-attr]
    assert normalize_vat(country, example) == example


def test_spaces_dots_and_dashes_go_and_the_prefix_is_added() -> None:
    assert normalize_vat("DE", "123.456-789") == "DE123456789"
    assert normalize_vat("BA", "BA 4200-0000-0001") == "420000000001"
    assert normalize_vat("GR", "el123456789") == "EL123456789"


def test_a_mismatch_names_the_expected_format() -> None:
    with pytest.raises(InvalidVat, match="vat_id for SE must be SE followed by 12 digits"):
        normalize_vat("SE", "SE1234567890")


def test_outside_the_eu_and_bih_only_letters_and_digits_are_checked() -> None:
    assert normalize_vat("US", "12-3456789") == "123456789"
    with pytest.raises(InvalidVat):
        normalize_vat("US", "!")
