"""The `ci` lookup: case-insensitive equality that our LOWER(...) unique indexes serve."""

from __future__ import annotations

import pytest
from django.db import connection

from sessions_app.models import Token
from tests.sessions_app.factories import TokenFactory


def test_ci_matches_whatever_the_case(db: None) -> None:
    token = TokenFactory.create(uid="AbC123")

    assert list(Token.objects.filter(uid__ci="abc123")) == [token]
    assert list(Token.objects.filter(uid__ci="ABC123")) == [token]
    assert not Token.objects.filter(uid__ci="abc12").exists()


def test_ci_compares_lower_to_lower_like_the_indexes(db: None) -> None:
    sql = str(Token.objects.filter(uid__ci="x").query)

    assert "LOWER(" in sql
    assert "UPPER(" not in sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
def test_a_token_found_by_uid_is_read_through_an_index(db: None) -> None:
    token = TokenFactory.create(uid="AbC123")
    queryset = Token.objects.filter(owner_id=token.owner_id, uid__ci="abc123")

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()

    assert "Index" in plan
