"""Versioned schemas: the admin database and the retry-task table, each upgraded by Alembic.

`spec` describes one schema (where its revisions live, the table recording its revision) and is
free of Alembic, so the executor can import it. Everything else here imports Alembic and is
loaded only by the commands and calls that inspect or upgrade a database:

    status        what revision a database is at, compared with this code's head
    upgrade       bring a database to head: all-or-nothing on SQLite and PostgreSQL (there under
                  an advisory lock), under a named lock on MySQL
    named_lock    MySQL/MariaDB's `GET_LOCK`, PostgreSQL's advisory lock: two upgraders kept apart
    environment   the body of every env.py (how Alembic is configured for shardcron)
    steps         re-runnable DDL steps for revision scripts (a MySQL upgrade resumes after a failure)
    offline       the same upgrade as SQL text, for DBAs who apply DDL themselves
    ddl           the full CREATE script of the head schema (the files in `sql/`)
    messages      the one-line reports the commands print
    commands      the bodies of `db`/`tasks` `upgrade|current|history`
"""
