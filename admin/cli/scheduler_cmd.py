"""`shardcron scheduler`: the fire loop and the monitors alone, without the web server.

For production layouts: N web workers under gunicorn (`shardcron.admin.wsgi:app`) plus M
scheduler processes, all on one MySQL/MariaDB. Any number of schedulers may run at once.
"""

from __future__ import annotations

import click

from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.logfmt import configure_logging

from ..db import redact_url
from .serve_cmd import prepare_database


@click.command("scheduler")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.option("--node-id", default=None, help="This process's name in leases and logs (default: the scheduler_node_id setting, else hostname-pid-random).")
@click.pass_obj
def scheduler(state, database_url: str | None, node_id: str | None) -> None:
    """Run the scheduler (fire loop and monitors) until SIGTERM or Ctrl-C."""
    from .. import AdminContext
    from ..scheduling.runner import SchedulerRunner

    config = state.config(database_url=database_url, scheduler_node_id=node_id)
    configure_logging(config.log_level, config.log_format)
    database = prepare_database(config)
    http = None
    try:
        runner = SchedulerRunner(AdminContext(config=config, db=database, clock=SYSTEM_CLOCK))
        if config.scheduler_metrics_bind:
            from ..ops.scheduler_http import SchedulerHttp

            http = SchedulerHttp(config, alive=runner.alive).start()
        click.echo(f"shardcron scheduler {runner.node_id} (database {redact_url(config.effective_database_url)})")
        runner.run()
    finally:
        if http is not None:
            http.close()
        database.dispose()
