"""Django's PostgreSQL backend with a health check that costs nothing under load.

With CONN_HEALTH_CHECKS, Django pings a persistent connection (`SELECT 1`) on its first use
in every request: a second round trip for a GET that otherwise makes one (bench/RESULTS.md).
Here the ping runs only when the connection has been idle for HEALTH_CHECK_IDLE_SECONDS —
when a database restart or a dropped socket could have gone unnoticed. A connection in
steady use that breaks fails its next query instead; Django then closes it at the end of
that request (errors_occurred), and the following request connects anew.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_IDLE_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_used = float("-inf")

    def close_if_health_check_failed(self):
        now = time.monotonic()
        idle = now - self._last_used
        self._last_used = now
        if self.connection is not None and idle < HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
