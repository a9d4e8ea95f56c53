"""Webhook alarms: the alarm's JSON document POSTed to the job's URL; any 2xx is delivered.

Redirects are not followed and the answer's body is not kept, so a webhook URL pointed at an
internal service learns nothing but a status code.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from shardcron.core.protocol import encode_json

from .delivery import AlarmDeliveryError
from .message import AlarmMessage


class WebhookPoster:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def post(self, url: str, message: AlarmMessage) -> None:
        if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
            raise AlarmDeliveryError(f"alarm webhook {url!r} is not an http(s) URL", permanent=True)
        try:
            response = self.session.post(
                url,
                data=encode_json(message.payload),
                headers={"Content-Type": "application/json", "User-Agent": "shardcron-alarm"},
                timeout=self.timeout_s,
                allow_redirects=False,
                stream=True,  # the body is never read
            )
        except requests.Timeout:
            raise AlarmDeliveryError(f"webhook {url} did not answer within {self.timeout_s:g} s") from None
        except requests.RequestException as exc:
            raise AlarmDeliveryError(f"webhook {url} unreachable: {type(exc).__name__}: {exc}") from None
        with response:
            # Only the status is recorded: the answer's body never reaches the console, so a
            # webhook URL cannot be used to read from services the admin can reach.
            if not 200 <= response.status_code < 300:
                raise AlarmDeliveryError(f"webhook {url} answered HTTP {response.status_code}")
