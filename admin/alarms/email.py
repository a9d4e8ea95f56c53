"""E-mail alarms over SMTP (smtplib): STARTTLS, implicit TLS or plain, optional login."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from ..config import Config
from .delivery import AlarmDeliveryError
from .message import AlarmMessage


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    username: str | None
    password: str | None
    sender: str
    starttls: bool
    ssl: bool
    timeout_s: float

    @classmethod
    def from_config(cls, config: Config) -> SmtpSettings:
        return cls(
            host=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=config.smtp_password,
            sender=config.smtp_from,
            starttls=config.smtp_starttls and not config.smtp_ssl,
            ssl=config.smtp_ssl,
            timeout_s=config.alarm_timeout_s,
        )


def parse_recipients(target: str) -> list[str]:
    """`"a@x.org, Ops <ops@x.org>; b@y.org"` -> the bare addresses; refuses anything without an @."""
    pairs = getaddresses([target.replace(";", ",")])
    addresses = [address for _, address in pairs if address]
    bad = [address for address in addresses if "@" not in address or address.startswith("@") or address.endswith("@")]
    if bad or not addresses:
        raise AlarmDeliveryError(f"alarm e-mail target {target!r} holds no valid address" + (f" ({', '.join(bad)})" if bad else ""), permanent=True)
    return addresses


def send_email(settings: SmtpSettings, target: str, message: AlarmMessage) -> None:
    if not settings.host:
        raise AlarmDeliveryError("smtp_host is not configured: e-mail alarms cannot be sent", permanent=True)
    recipients = parse_recipients(target)
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(message.composed_at_ms / 1000, usegmt=True)
    mail["Message-ID"] = make_msgid(domain="shardcron")
    mail.set_content(message.text)
    try:
        if settings.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_s, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            refused = smtp.send_message(mail, from_addr=settings.sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise AlarmDeliveryError(f"SMTP server refused every recipient: {_describe_refused(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise AlarmDeliveryError(f"SMTP login as {settings.username!r} refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise AlarmDeliveryError(f"SMTP server {settings.host}:{settings.port}: {exc} (check smtp_starttls / smtp_ssl)") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise AlarmDeliveryError(f"SMTP {settings.host}:{settings.port}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise AlarmDeliveryError(f"SMTP server refused some recipients: {_describe_refused(refused)}", permanent=True)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe_refused(refused: dict) -> str:
    return ", ".join(f"{address} ({code} {_text(reason)})" for address, (code, reason) in refused.items())
