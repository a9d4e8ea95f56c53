"""An empty MariaDB database to build an XXL-JOB schema in (besides the target `db_url`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import _mysql_base_url, _server_url


@pytest.fixture
def xxljob_url() -> Iterator[str]:
    base = _mysql_base_url()
    name = f"{base.database or 'shardcron_test'}_xxl_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(_server_url(base), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()
