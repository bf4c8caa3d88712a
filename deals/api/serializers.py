from decimal import Decimal

from rest_framework import serializers

from deals.money import exact_amount

NO_FILE = "no file in the multipart field 'deals'"


class SingleFileField(serializers.FileField):
    """The upload's one file (deals/api/parsers.py refuses a second `deals` part)."""

    default_error_messages = {"required": NO_FILE, "invalid": NO_FILE}

    def __init__(self, **kwargs):
        super().__init__(allow_empty_file=True, **kwargs)  # the CSV check says "the file is empty"


class ExactAmountField(serializers.Field):
    """A sum of money as an exact JSON number: 451731, 10.75, 10.5 (never 451731.00 or a float)."""

    def to_representation(self, value: Decimal) -> Decimal:
        return exact_amount(value)
