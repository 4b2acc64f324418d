"""VAT identifiers and countries: the shapes an invoice's buyer must fit.

Checked by format only (not against the EU's VIES service): every EU member state with
its VIES prefix (Greece: EL), and Bosnia and Herzegovina, whose PDV number is the 12
digits given by the indirect tax authority (UIO), written without a prefix.
"""

from __future__ import annotations

import re


class InvalidVat(ValueError):
    """A VAT identifier that does not fit its country; the message names the format."""


# The VAT identifier's shape per country (after its prefix), and how to say it. EU member
# states use their VIES prefix (Greece: EL); Bosnia and Herzegovina's PDV number is the
# 12 digits of the indirect tax authority (UIO), written without a prefix.
_VAT: dict[str, tuple[str, str, str]] = {
    "AT": ("AT", r"U\d{8}", "ATU followed by 8 digits, such as ATU12345678"),
    "BE": ("BE", r"[01]\d{9}", "BE followed by 10 digits starting 0 or 1, such as BE0123456789"),
    "BG": ("BG", r"\d{9,10}", "BG followed by 9 or 10 digits, such as BG123456789"),
    "CY": ("CY", r"\d{8}[A-Z]", "CY followed by 8 digits and a letter, such as CY12345678X"),
    "CZ": ("CZ", r"\d{8,10}", "CZ followed by 8 to 10 digits, such as CZ12345678"),
    "DE": ("DE", r"\d{9}", "DE followed by 9 digits, such as DE123456789"),
    "DK": ("DK", r"\d{8}", "DK followed by 8 digits, such as DK12345678"),
    "EE": ("EE", r"\d{9}", "EE followed by 9 digits, such as EE123456789"),
    "GR": ("EL", r"\d{9}", "EL followed by 9 digits, such as EL123456789"),
    "ES": ("ES", r"[0-9A-Z]\d{7}[0-9A-Z]", "ES followed by 9 characters, such as ESX1234567X"),
    "FI": ("FI", r"\d{8}", "FI followed by 8 digits, such as FI12345678"),
    "FR": ("FR", r"[0-9A-Z]{2}\d{9}", "FR followed by 2 characters and 9 digits, FR12345678901"),
    "HR": ("HR", r"\d{11}", "HR followed by 11 digits, such as HR12345678901"),
    "HU": ("HU", r"\d{8}", "HU followed by 8 digits, such as HU12345678"),
    "IE": (
        "IE",
        r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
        "IE followed by 8 or 9 characters, such as IE1234567T",
    ),
    "IT": ("IT", r"\d{11}", "IT followed by 11 digits, such as IT12345678901"),
    "LT": ("LT", r"\d{9}|\d{12}", "LT followed by 9 or 12 digits, such as LT123456789"),
    "LU": ("LU", r"\d{8}", "LU followed by 8 digits, such as LU12345678"),
    "LV": ("LV", r"\d{11}", "LV followed by 11 digits, such as LV12345678901"),
    "MT": ("MT", r"\d{8}", "MT followed by 8 digits, such as MT12345678"),
    "NL": ("NL", r"\d{9}B\d{2}", "NL followed by 9 digits, B and 2 digits, NL123456789B01"),
    "PL": ("PL", r"\d{10}", "PL followed by 10 digits, such as PL1234567890"),
    "PT": ("PT", r"\d{9}", "PT followed by 9 digits, such as PT123456789"),
    "RO": ("RO", r"\d{2,10}", "RO followed by 2 to 10 digits, such as RO1234567"),
    "SE": ("SE", r"\d{10}01", "SE followed by 12 digits ending 01, such as SE123456789001"),
    "SI": ("SI", r"\d{8}", "SI followed by 8 digits, such as SI12345678"),
    "SK": ("SK", r"\d{10}", "SK followed by 10 digits, such as SK1234567890"),
    "BA": ("", r"\d{12}", "12 digits (the PDV number), such as 123456789012"),
}


# ISO 3166-1 alpha-2, and XK (Kosovo), which the EU and the Western Balkans use.
COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW""".split()
)


def vat_format(country: str) -> str | None:
    """The expected shape of ``country``'s VAT identifier, or None where none is checked."""
    known = _VAT.get(country)
    return known[2] if known else None


def normalize_vat(country: str, raw: str) -> str:
    """``raw`` without spaces, dots and dashes, upper-case, with the country's prefix
    (none for BiH); :class:`InvalidVat` naming the expected format when it does not fit.
    Countries outside the EU and BiH: letters and digits, up to 20."""
    value = re.sub(r"[\s.\-/]", "", raw).upper()
    known = _VAT.get(country)
    if known is None:
        if not re.fullmatch(r"[A-Z0-9]{2,20}", value):
            raise InvalidVat("vat_id must be 2 to 20 letters and digits.")
        return value
    prefix, pattern, said = known
    body = value[len(prefix) :] if prefix and value.startswith(prefix) else value
    if country == "BA" and body.startswith("BA"):
        body = body[2:]
    if not re.fullmatch(pattern, body):
        raise InvalidVat(f"vat_id for {country} must be {said}.")
    return prefix + body
