"""Money: an exact Decimal amount in an ISO 4217 currency, stored as integer minor units.

Never a float. Amounts carry exactly as many decimals as their currency has minor units
(EUR 2, JPY 0, KWD 3), so ``Money.parse("19.99 EUR").minor == 1999`` and arithmetic is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

# ISO 4217 currencies whose minor unit is not 2 decimals (everything else listed below uses 2).
_EXPONENTS: Final[dict[str, int]] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),  # noqa: SIM905
    "CLF": 4,
    "UYW": 4,
}
_TWO_DECIMALS: Final = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK
    PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL""".split()  # noqa: SIM905
)
CURRENCIES: Final = frozenset(_EXPONENTS) | _TWO_DECIMALS

_AMOUNT = re.compile(r"^[+-]?(\d{1,3}([ ,.\u00a0'\u2019]\d{3})+|\d+)([.,]\d+)?$")


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def exponent(currency: str) -> int:
    """Number of minor-unit decimals of ``currency`` (ISO 4217)."""
    code = currency.upper()
    if code not in CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r}")
    return _EXPONENTS.get(code, 2)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount in one currency; ``minor`` is the integer number of minor units."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("minor units must be an int")
        code = self.currency.upper()
        exponent(code)
        object.__setattr__(self, "currency", code)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """From a major-unit amount; more decimals than the currency has is an error."""
        if isinstance(amount, float):
            raise MoneyError("floats are not money; pass a Decimal or a string")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise MoneyError(f"not an amount: {amount!r}") from None
        if not value.is_finite():
            raise MoneyError(f"not an amount: {amount!r}")
        exp = exponent(currency)
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{amount} has more than {exp} decimals for {currency.upper()}")
        return cls(int(scaled), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, default_currency: str | None = None) -> Money:
        """See ``_parse`` (cached: feeds repeat the same prices many times)."""
        return _parse(text, default_currency)

    @classmethod
    def _parse_uncached(cls, text: str, default_currency: str | None = None) -> Money:
        """Parse feed prices: ``"15.00 USD"``, ``"USD 15.00"``, ``"1,299.00 EUR"``, ``"12,50 EUR"``.

        A lone comma followed by 1 or 2 digits is a decimal comma; otherwise ``,`` and spaces
        group thousands. The currency comes from the text or ``default_currency``.
        """
        parts = text.replace("\u00a0", " ").strip().split()
        currency = default_currency
        number_parts = []
        for part in parts:
            if len(part) == 3 and part.isalpha():
                currency = part.upper()
            else:
                number_parts.append(part)
        number = "".join(number_parts)
        if not number:
            raise MoneyError(f"no amount in {text!r}")
        if currency is None:
            raise MoneyError(f"no currency in {text!r}")
        return cls.of(_normalise_number(number, text), currency)

    # -- views ----------------------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    @property
    def amount(self) -> Decimal:
        """The major-unit amount with exactly ``exponent`` decimals (``Decimal('19.99')``)."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def __str__(self) -> str:
        return f"{self.amount:.{self.exponent}f} {self.currency}"

    def to_json(self) -> dict[str, str | int]:
        return {"amount": f"{self.amount:.{self.exponent}f}", "currency": self.currency}

    # -- arithmetic -----------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        """Multiply by a quantity or rate; a fractional result rounds half-to-even."""
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError("multiply Money by an int or a Decimal")
        product = (Decimal(self.minor) * Decimal(factor)).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return Money(int(product), self.currency)

    __rmul__ = __mul__

    def _cmp(self, other: Money) -> int:
        self._same(other)
        return (self.minor > other.minor) - (self.minor < other.minor)

    def __lt__(self, other: Money) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: Money) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: Money) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: Money) -> bool:
        return self._cmp(other) >= 0

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights``; the parts always sum to ``self``.

        Remainders go one minor unit at a time to the earliest parts (largest-remainder
        would also do; what matters is that nothing is created or lost).
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise MoneyError("weights must be non-negative and not all zero")
        total = sum(weights)
        sign = -1 if self.minor < 0 else 1
        units = abs(self.minor)
        shares = [units * w // total for w in weights]
        remainder = units - sum(shares)
        for index in range(len(shares)):
            if remainder == 0:
                break
            if weights[index]:
                shares[index] += 1
                remainder -= 1
        return [Money(sign * share, self.currency) for share in shares]


@lru_cache(maxsize=8192)
def _parse(text: str, default_currency: str | None) -> Money:
    return Money._parse_uncached(text, default_currency)


def _normalise_number(number: str, original: str) -> str:
    """``"1,299.00"`` → ``"1299.00"``, ``"12,50"`` → ``"12.50"``, ``"1.299.000"`` → ``"1299000"``.

    Both separators: the last one is the decimal mark. A lone comma followed by anything but
    three digits is a decimal comma; a lone dot is always a decimal point (as the feed specs
    require).
    """
    if not _AMOUNT.match(number):
        raise MoneyError(f"not a price: {original!r}")
    sign = "-" if number.startswith("-") else ""
    number = number.lstrip("+-")
    decimal_sep: str | None = None
    if "." in number and "," in number:
        decimal_sep = "." if number.rfind(".") > number.rfind(",") else ","
    elif "," in number:
        if number.count(",") == 1 and len(number.rsplit(",", 1)[1]) != 3:
            decimal_sep = ","
    elif number.count(".") == 1:
        decimal_sep = "."
    if decimal_sep is None:
        return sign + re.sub(r"\D", "", number)
    integer, fraction = number.rsplit(decimal_sep, 1)
    if decimal_sep in integer:
        raise MoneyError(f"not a price: {original!r}")
    digits = re.sub(r"\D", "", integer) or "0"
    return f"{sign}{digits}.{fraction}"
