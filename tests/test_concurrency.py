"""Concurrent uploads never mix, and readers are never blocked by an upload nor see it half-done.

These tests commit for real (transaction=True) so that several connections see each other.
"""

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connections
from rest_framework.test import APIClient

from deals.models import Deal, Upload
from tests.conftest import get_report, post_csv
from tests.transactional import advisory_locks, generated_file, reports_emptied

pytestmark = pytest.mark.django_db(transaction=True)

READERS = 20
# Generous for a loaded 2-core machine; a read that waited for the upload would take the
# whole upload (over twice as long, asserted below).
SLOWEST_READ_SECONDS = 2.0


@pytest.fixture(autouse=True)
def empty_reports(transactional_db):
    yield
    reports_emptied()


def closing_connection(function):
    """Run `function` in a worker thread, then close that thread's database connection."""

    @functools.wraps(function)
    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run


def test_two_uploads_at_once_leave_exactly_one_of_them(api_client):
    files = {"a": generated_file("a", 60_000), "b": generated_file("b", 60_000)}
    reports = {}
    for name, content in files.items():
        assert post_csv(api_client, content).status_code == HTTPStatus.OK
        reports[name] = get_report(api_client).json()
    first_new_upload = Upload.objects.latest("pk").pk + 1
    barrier = threading.Barrier(len(files))

    @closing_connection
    def send(name: str) -> tuple[int, float, float]:
        barrier.wait()
        started = time.monotonic()
        response = post_csv(APIClient(), files[name], name=f"{name}.csv")
        return response.status_code, started, time.monotonic()

    with ThreadPoolExecutor(len(files)) as pool:
        results = list(pool.map(send, files))

    assert [status for status, _, _ in results] == [HTTPStatus.OK, HTTPStatus.OK]
    assert max(started for _, started, _ in results) < min(ended for _, _, ended in results)
    history = list(Upload.objects.filter(pk__gte=first_new_upload).order_by("finished_at"))
    assert sorted((upload.filename, upload.status) for upload in history) == [
        ("a.csv", Upload.Status.OK),
        ("b.csv", Upload.Status.OK),
    ]
    winner = history[-1].filename.removesuffix(".csv")  # the last to commit wins
    assert get_report(api_client).json() == reports[winner]
    customers = set(Deal.objects.values_list("customer", flat=True))
    assert {customer[0] for customer in customers} == {winner}
    assert Deal.objects.count() == 60_000
    assert advisory_locks() == 0


@pytest.mark.slow
def test_readers_see_the_old_report_until_the_commit_and_are_never_blocked(
    api_client, deals_csv, expected_report
):
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    large = generated_file("n", 1_000_000)
    done = threading.Event()
    lock_seen: list[float] = []

    @closing_connection
    def watch_lock() -> None:
        while not done.is_set():
            # The time before the query: the lock was held after it, so the commit came later.
            checked = time.monotonic()
            if advisory_locks():
                lock_seen.append(checked)
            time.sleep(0.01)

    @closing_connection
    def read(_) -> list[tuple[float, float, int, dict]]:
        client, answers = APIClient(), []
        while True:
            last = done.is_set()
            started = time.monotonic()
            response = get_report(client)
            answers.append((started, time.monotonic(), response.status_code, response.json()))
            if last:
                return answers
            time.sleep(0.02)  # leave the upload some CPU: measure waiting, not starvation

    with ThreadPoolExecutor(READERS + 1) as pool:
        watcher = pool.submit(watch_lock)
        readers = [pool.submit(read, number) for number in range(READERS)]
        uploaded = post_csv(api_client, large)
        done.set()
        watcher.result()
        answers = [reader.result() for reader in readers]

    assert uploaded.status_code == HTTPStatus.OK
    new_report = get_report(api_client).json()
    assert new_report != expected_report
    assert lock_seen, "the upload's transaction was never observed"
    lock_start, lock_end = lock_seen[0], lock_seen[-1]
    assert lock_end - lock_start > 2 * SLOWEST_READ_SECONDS  # the upload takes seconds
    every = [answer for thread in answers for answer in thread]
    assert {status for _, _, status, _ in every} == {HTTPStatus.OK}
    slowest = max(ended - started for started, ended, _, _ in every)
    assert slowest < SLOWEST_READ_SECONDS, f"{slowest:.2f}s, upload {lock_end - lock_start:.2f}s"
    during = [body for started, ended, _, body in every if lock_start < started < ended < lock_end]
    assert len(during) >= READERS * 3
    assert all(body == expected_report for body in during)
    for thread in answers:
        bodies = [body for _, _, _, body in thread]
        assert all(body in (expected_report, new_report) for body in bodies)
        switch = bodies.index(new_report)  # each reader switches once and never goes back
        assert bodies[:switch] == [expected_report] * switch
        assert bodies[switch:] == [new_report] * (len(bodies) - switch)
