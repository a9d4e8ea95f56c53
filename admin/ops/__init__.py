"""Operations endpoints of the admin: `/readyz` and `/metrics` (`/healthz` is in create_app).

Both are for machines (load balancers, Kubernetes probes, Prometheus): they answer without a
session. `/readyz` says only which check failed, never a password or an address; `/metrics`
requires `Authorization: Bearer <metrics_token>` when that setting is set.
"""

from .endpoints import blueprint

__all__ = ["blueprint"]
