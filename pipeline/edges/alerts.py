"""Chat alerts: a short message to ``ALERT_WEBHOOK_URL`` (Slack or Discord incoming webhook).

One JSON body serves both: Slack reads ``text``, Discord reads ``content``, each ignores the
other. An alert that cannot be delivered is logged, not fatal: the issue is the record. The
webhook URL is a secret and is never printed.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from pipeline.config import alert_webhook_url

log = logging.getLogger("pipeline")


def alert_text(model: str, period: str, verdict: str, link: str | None) -> str:
    text = f"Driftgate {model} {period}: {verdict}"
    return f"{text} {link}" if link else text


def send_alert(text: str, url: str | None = None, timeout: float = 10) -> bool:
    """Post ``text`` when a webhook is configured (``url``, else the configured one).

    True when it was delivered.
    """
    url = alert_webhook_url() if url is None else url.strip()
    if not url:
        return False
    payload = json.dumps({"text": text, "content": text[:2000]}).encode()
    request = urllib.request.Request(
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as error:
        log.warning("alert webhook answered HTTP %d; alert not delivered", error.code)
        return False
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        log.warning("alert webhook unreachable (%s); alert not delivered", type(reason).__name__)
        return False
    return True
