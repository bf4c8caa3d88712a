"""Concurrent uploads queue on the upload lock and never mix; readers are never blocked by an
upload nor see it half-done.

These tests commit for real (transaction=True) so that several connections see each other.
None depends on timing: the upload is paused at known points (a lock held by another session,
an event after the report's refresh) and what it waits for is read from `pg_locks`.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection
from rest_framework.test import APIClient

from deals.models import Deal, Upload
from deals.services import REPORT_VIEWS, UPLOAD_LOCK_KEY
from tests.conftest import get_report, post_csv
from tests.transactional import (
    PATIENCE_SECONDS,
    advisory_locks,
    awaited_lock,
    closing_connection,
    copy_gate,
    deal_sequence,
    generated_file,
    reports_emptied,
    wait_until,
    wait_until_waiting_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

READERS = 8


@pytest.fixture(autouse=True)
def empty_reports(transactional_db):
    yield
    reports_emptied()


def backend_of(filename: str):
    """The PostgreSQL backend running the upload of `filename`, once it has started."""
    uploads = Upload.objects.filter(filename=filename)
    return lambda: uploads.values_list("backend_pid", flat=True).first()


def uploading(pool: ThreadPoolExecutor, content: bytes, filename: str) -> Future:
    return pool.submit(closing_connection(lambda: post_csv(APIClient(), content, name=filename)))


def test_a_second_upload_waits_on_the_upload_lock_and_the_last_to_commit_wins(api_client):
    files = {"a": generated_file("a", 6_000), "b": generated_file("b", 6_000)}
    reports = {}
    for name in ("b", "a"):  # a is the data before; b will commit last
        assert post_csv(api_client, files[name]).status_code == HTTPStatus.OK
        reports[name] = get_report(api_client).json()

    with ThreadPoolExecutor(2) as pool, copy_gate() as gate:
        first = uploading(pool, files["a"], "a.csv")
        wait_until_waiting_for(deal_sequence(), backend_of("a.csv"))  # inside COPY
        second = uploading(pool, files["b"], "b.csv")
        second_pid = wait_until(backend_of("b.csv"), "the second upload started")
        awaited = wait_until(lambda: awaited_lock(second_pid), "the second upload waiting")
        gate.open()
        statuses = [first.result().status_code, second.result().status_code]

    # The upload lock, not merely the lock of TRUNCATE, which it would otherwise wait for.
    assert awaited == ("advisory", None, UPLOAD_LOCK_KEY)
    assert statuses == [HTTPStatus.OK, HTTPStatus.OK]
    history = Upload.objects.filter(filename__in=["a.csv", "b.csv"]).order_by("finished_at")
    assert list(history.values_list("filename", "status")) == [("a.csv", "ok"), ("b.csv", "ok")]
    assert get_report(api_client).json() == reports["b"]
    customers = set(Deal.objects.values_list("customer", flat=True))
    assert {customer[0] for customer in customers} == {"b"}
    assert Deal.objects.count() == 6_000
    assert advisory_locks() == 0


class Readers:
    """Threads that GET the report over and over, each on its own connection.

    Each session has a `lock_timeout`: a read that would wait on the upload's locks fails
    (503) instead of waiting, and the upload waits for the test, so such a read always fails.
    Each answer is kept with the phase of the upload when the request started and ended.
    """

    def __init__(self, count: int):
        self.phase = "started"
        self.answers: list[list[tuple[str, str, int, dict]]] = [[] for _ in range(count)]
        self._answered = threading.Condition()

    def start(self, pool: ThreadPoolExecutor) -> list[Future]:
        return [pool.submit(closing_connection(self._read), n) for n in range(len(self.answers))]

    def read_in(self, phase: str) -> None:
        """Enter `phase`, and return once every reader has read entirely within it."""
        with self._answered:
            self.phase = phase
            everyone = self._answered.wait_for(
                lambda: all(
                    any(start == end == phase for start, end, _, _ in answers)
                    for answers in self.answers
                ),
                timeout=PATIENCE_SECONDS,
            )
        assert everyone, f"not every reader could read in phase {phase}"

    def stop(self) -> None:
        with self._answered:
            self.phase = "stopped"

    def _read(self, number: int) -> None:
        client = APIClient()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        while (started := self.phase) != "stopped":
            response = get_report(client)
            with self._answered:
                answer = (started, self.phase, response.status_code, response.json())
                self.answers[number].append(answer)
                self._answered.notify_all()


def test_readers_get_the_previous_report_without_waiting_until_the_upload_commits(
    api_client, deals_csv, expected_report, monkeypatch
):
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    refreshed, go_on = threading.Event(), threading.Event()
    last_view = REPORT_VIEWS[-1][0]  # what GET reads, refreshed last
    refresh = last_view.refresh

    def refresh_then_wait(**kwargs):
        refresh(**kwargs)
        refreshed.set()  # the new report is in the view, uncommitted, with REFRESH's locks
        assert go_on.wait(PATIENCE_SECONDS)

    monkeypatch.setattr(last_view, "refresh", refresh_then_wait)
    readers = Readers(READERS)
    with ThreadPoolExecutor(READERS + 1) as pool, copy_gate() as gate:
        try:
            upload = uploading(pool, generated_file("n", 2_000), "new.csv")
            wait_until_waiting_for(deal_sequence(), backend_of("new.csv"))
            reading = readers.start(pool)
            readers.read_in("copy")  # the table truncated and locked, COPY under way
            gate.open()
            wait_until(refreshed.is_set, "the upload refreshed the report")
            readers.read_in("refreshed")
            readers.read_in("committing")
            go_on.set()
            assert upload.result().status_code == HTTPStatus.OK
            readers.read_in("committed")
        finally:
            go_on.set()
            readers.stop()
        for reader in reading:
            reader.result()

    new_report = get_report(api_client).json()
    assert new_report != expected_report
    every = [answer for answers in readers.answers for answer in answers]
    assert {status for _, _, status, _ in every} == {HTTPStatus.OK}
    before = [body for _, end, _, body in every if end in ("copy", "refreshed")]
    assert before and all(body == expected_report for body in before)
    after = [body for start, _, _, body in every if start == "committed"]
    assert after and all(body == new_report for body in after)
    for answers in readers.answers:  # each reader switches once, at the commit, never back
        bodies = [body for _, _, _, body in answers]
        switch = bodies.index(new_report)
        assert bodies == [expected_report] * switch + [new_report] * (len(bodies) - switch)
