"""CPU time of one GET, in-process: each view, and each DRF policy the public read skips.

    DATABASE_URL=... python bench/request_cost.py    # prints JSON; bench/run.py calls it

No sockets, no gunicorn, no load generator: every request goes through Django's WSGI handler
and middleware in this process, many times in interleaved rounds; the CPU time this process
spends per request is counted, the fastest round wins. Steadier than throughput on a shared
machine; what PostgreSQL spends answering is not in these figures (throughput has it).

Policies: the product's GET view with one of DRF's per-request steps put back (the ones
APIView.initial runs and DealsApi skips for GET), against the view without it.
"""

import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 7
REQUESTS = 1_500


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    print(json.dumps({"views": views_cost(), "policies": policies_cost()}))


def views_cost() -> dict[str, float]:
    """Microseconds per request through the WSGI handler: the reference views and the GET."""
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()
    etag = _get(application, "/api/deals/")[1]["ETag"]
    requests = {
        "constant-django": ("/bench/constant-django/", {}),
        "one-read": ("/bench/one-read/", {}),
        "constant-drf": ("/bench/constant/", {}),
        "get": ("/api/deals/", {}),
        "304": ("/api/deals/", {"HTTP_IF_NONE_MATCH": etag}),
    }
    calls = {
        name: (lambda path=path, headers=headers: _get(application, path, headers))
        for name, (path, headers) in requests.items()
    }
    return _fastest_rounds(calls)


def policies_cost() -> dict[str, float]:
    """Microseconds each DRF policy adds to the product's GET (view called directly)."""
    from django.test import RequestFactory

    from deals.api.urls import DealsApi

    steps = {
        "none (as served)": None,
        "content negotiation": _negotiate,
        "authentication": lambda view, request: view.perform_authentication(request),
        "permissions": lambda view, request: view.check_permissions(request),
        "throttling": lambda view, request: view.check_throttles(request),
        "all four (APIView.initial)": lambda view, request: _stock_initial(view, request),
    }
    factory = RequestFactory()
    calls = {}
    for name, step in steps.items():
        view = DealsApi.as_view() if step is None else _with_step(DealsApi, step).as_view()
        calls[name] = lambda view=view: _served(view(factory.get("/api/deals/")))
    costs = _fastest_rounds(calls)
    base = costs.pop("none (as served)")
    return {"base": base} | {name: cost - base for name, cost in costs.items()}


def _with_step(view_class, step):
    class WithStep(view_class):
        def initial(self, request, *args, **kwargs):
            step(self, request)

    return WithStep


def _negotiate(view, request) -> None:
    view.format_kwarg = view.get_format_suffix()
    request.accepted_renderer, request.accepted_media_type = view.perform_content_negotiation(
        request
    )


def _served(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"the GET view answered {response.status_code}")


def _stock_initial(view, request) -> None:
    from rest_framework.views import APIView

    APIView.initial(view, request)


def _get(application, path: str, headers: dict | None = None) -> tuple[bytes, dict]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **(headers or {}),
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer.update(response_headers, status=status)

    response = application(environ, start_response)
    body = b"".join(response)
    response.close()
    if not answer["status"].startswith(("200", "304")):
        raise RuntimeError(f"{path} answered {answer['status']}")
    return body, answer


def _fastest_rounds(calls: dict) -> dict[str, float]:
    """CPU microseconds of this thread per call: the fastest of ROUNDS interleaved rounds of
    REQUESTS calls. CPU time, not wall time: waiting for PostgreSQL's answer or for a core
    taken by another process does not count."""
    for call in calls.values():  # warm: imports, connection, caches
        for _ in range(50):
            call()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(ROUNDS):
        for name, call in calls.items():
            started = time.thread_time()
            for _ in range(REQUESTS):
                call()
            best[name] = min(best[name], (time.thread_time() - started) / REQUESTS * 1e6)
    return best


if __name__ == "__main__":
    main()
