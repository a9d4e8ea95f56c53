"""Operations endpoints of the admin: `/readyz` and `/metrics` (`/healthz` is in create_app).

Both are for machines (load balancers, Kubernetes probes, Prometheus): they answer without a
session. `/readyz` says only which check failed, never a password or an address; `/metrics`
requires `Authorization: Bearer <metrics token>`: the `metrics_token` setting, else one generated
into instance_dir/metrics_token; only `metrics_open = true` serves it without one.
"""

from .endpoints import blueprint

__all__ = ["blueprint"]
