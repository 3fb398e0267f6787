"""Make the database refuse writes for a while, the way a full disk, a revoked grant or a failing
constraint would: a trigger that raises on INSERT into one table (PostgreSQL or SQLite)."""

import contextlib

from django.db import connection

NAME = "reliability_refuse_insert"


@contextlib.contextmanager
def refused_inserts(table: str, when: str = "TRUE"):
    """Every INSERT into `table` whose new row matches `when` (SQL on NEW) fails until exit."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'insert refused by the reliability test'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {NAME} BEFORE INSERT ON {table} FOR EACH ROW "
                f"WHEN ({when}) EXECUTE FUNCTION {NAME}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {NAME} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) "
                "BEGIN SELECT RAISE(ABORT, 'insert refused by the reliability test'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER {NAME} ON {table}")
                cursor.execute(f"DROP FUNCTION {NAME}()")
            else:
                cursor.execute(f"DROP TRIGGER {NAME}")
