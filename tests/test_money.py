from decimal import Decimal

import pytest

from deals.money import exact_amount


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("451731.00", "451731"),
        ("10.75", "10.75"),
        ("10.50", "10.5"),
        ("0.10", "0.1"),
        ("0.00", "0"),
        ("1E+5", "100000"),
        ("999999999999990.01", "999999999999990.01"),
        ("12345678901234567890123456.50", "12345678901234567890123456.5"),
    ],
)
def test_exact_amount_drops_trailing_zeros_and_keeps_the_value(amount, shown):
    value = exact_amount(Decimal(amount))

    assert str(value) == shown
    assert value == Decimal(amount)
