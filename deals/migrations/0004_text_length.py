# The CHECK constraints are added NOT VALID: PostgreSQL enforces them on every row COPY loads
# from now on without scanning the rows already there, so a database holding a longer value
# from an earlier version still migrates (the next upload replaces those rows anyway).

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


def _not_valid(column):
    name = f"deal_{column}_length"
    check = f'OCTET_LENGTH("{column}") <= 256 OR LENGTH("{column}") <= 256'
    return migrations.RunSQL(
        f'ALTER TABLE "deals_deal" ADD CONSTRAINT "{name}" CHECK ({check}) NOT VALID',
        f'ALTER TABLE "deals_deal" DROP CONSTRAINT "{name}"',
    )


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0003_deal_date_in_python_range'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[_not_valid("customer"), _not_valid("item")],
            state_operations=[
                migrations.AddConstraint(
                    model_name='deal',
                    constraint=models.CheckConstraint(condition=models.Q(django.db.models.lookups.LessThanOrEqual(models.Func('customer', function='OCTET_LENGTH', output_field=models.IntegerField()), 256), django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('customer'), 256), _connector='OR'), name='deal_customer_length'),
                ),
                migrations.AddConstraint(
                    model_name='deal',
                    constraint=models.CheckConstraint(condition=models.Q(django.db.models.lookups.LessThanOrEqual(models.Func('item', function='OCTET_LENGTH', output_field=models.IntegerField()), 256), django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('item'), 256), _connector='OR'), name='deal_item_length'),
                ),
            ],
        ),
    ]
