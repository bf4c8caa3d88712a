from decimal import Decimal

from rest_framework import serializers

from deals.money import exact_amount

NO_FILE = "no file in the multipart field 'deals'"
MANY_FILES = "send exactly one file in the multipart field 'deals'"


class SingleFileField(serializers.FileField):
    """A file field that refuses the same field sent twice instead of keeping the last one."""

    default_error_messages = {"required": NO_FILE, "invalid": NO_FILE, "many": MANY_FILES}

    def __init__(self, **kwargs):
        super().__init__(allow_empty_file=True, **kwargs)  # the CSV check says "the file is empty"

    def get_value(self, dictionary):
        files = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else []
        if len(files) > 1:
            return files  # refused by to_internal_value, as an error of this field
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, list):
            self.fail("many")
        return super().to_internal_value(data)


class ExactAmountField(serializers.Field):
    """A sum of money as an exact JSON number: 451731, 10.75, 10.5 (never 451731.00 or a float)."""

    def to_representation(self, value: Decimal) -> Decimal:
        return exact_amount(value)
