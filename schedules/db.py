"""One plain INSERT for new rows the Hub writes on every booking and send.

Django's `create()` and `bulk_create()` cost more to build than to run for a
row or two (and on PostgreSQL bulk_create packs each column into an array
to UNNEST). These rows need none of what the ORM adds: no signals, no
primary key back, defaults already set on the instance.
"""

from django.db import connection


def insert(rows: list) -> None:
    """INSERT … VALUES (…), (…): the new instances `rows`, all of one model."""
    if not rows:
        return
    model = type(rows[0])
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = [field.get_db_prep_save(field.pre_save(row, add=True), connection) for row in rows for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({columns}) VALUES {', '.join([one_row] * len(rows))}", values
        )
