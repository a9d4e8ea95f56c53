"""gunicorn settings for the shardcron admin web (console, REST API, executor-facing API).

    gunicorn -c deploy/gunicorn.conf.py

Everything shardcron-specific comes from the same sources as every shardcron command
(`SHARDCRON_CONFIG` file, `SHARDCRON_*` variables); gunicorn's own knobs keep their own names
(`WEB_CONCURRENCY` for the worker count, `GUNICORN_CMD_ARGS` for anything else).

- bind: the `bind` setting (SHARDCRON_BIND; 127.0.0.1:8080 by default, 0.0.0.0:8080 in containers).
- workers: WEB_CONCURRENCY (default 2), each with 8 threads (gthread): the app waits on the
  database and on executors, not on the CPU.
- The web app starts no scheduler: run `shardcron scheduler` beside it.
- Metrics across workers: unless PROMETHEUS_MULTIPROC_DIR is set already, a fresh folder is
  made for prometheus_client's multi-process mode, so /metrics sums every worker.
"""

import os
import shutil
import tempfile

# Before anything imports prometheus_client: it picks its multi-process mode at import time.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shardcron-metrics-")
    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
else:
    _own_metrics_dir = None

from shardcron.admin.config import load_config  # noqa: E402

_config = load_config()  # fails here, with the key and the value, on a bad setting

wsgi_app = "shardcron.admin.wsgi:app"
bind = [_config.bind]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 8
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = _config.log_level.lower()
proc_name = "shardcron-web"


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
