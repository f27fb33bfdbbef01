"""`field__ci=value`: the case-insensitive equality our unique indexes can serve.

OCPI ids (token uids, object ids, reservation ids) are unique per owner ignoring case, enforced by
indexes on LOWER(column). Django's own `iexact` compiles to UPPER(column::text) on PostgreSQL, which
no such index serves, so every `iexact` lookup read the whole table of that owner. `ci` compares
LOWER to LOWER, the form of the indexes, on every database.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Lookup
from django.db.models.sql.compiler import SQLCompiler


@CharField.register_lookup
class CaseInsensitiveExact(Lookup):
    lookup_name = "ci"

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs}) = LOWER({rhs})", [*lhs_params, *rhs_params]
