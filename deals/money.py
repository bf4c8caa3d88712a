"""How a sum of money reads wherever it is shown: the API's JSON and the admin's pages.

A leaf of the domain, like `deals.errors`: it imports nothing from `deals`, so every layer may
use it.
"""

from decimal import Decimal


def exact_amount(value: Decimal) -> Decimal:
    """The amount without trailing zeros: 451731, 10.75, 10.5 (never 451731.00 nor 1E+5).

    Only the notation changes, never the value, up to 28 significant digits (the default
    decimal context; a sum of deals of at most 10^12 each would need 10^14 deals to pass it).
    Shown as text, an amount is `str()` of this.
    """
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
