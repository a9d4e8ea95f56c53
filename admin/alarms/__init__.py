"""Alarms for failed runs: e-mail (SMTP) and webhook (JSON POST).

The follow-up monitor writes one sc_alarm row per run and channel; `AlarmSender`, a loop of its
own, delivers them with retries and backoff and records the outcome on the row, so a slow mail
server never holds up the fire loop or the follow-ups.
"""

from .delivery import AlarmDeliveryError
from .sender import AlarmSender

__all__ = ["AlarmDeliveryError", "AlarmSender"]
