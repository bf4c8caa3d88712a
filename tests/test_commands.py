import io
import logging
import os
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.db.models.signals import pre_migrate

from deals.ingest import stream as ingest_stream
from deals.management.commands.ensure_superuser import NOT_SET
from deals.management.commands.import_deals import MB, ProgressBar
from deals.models import Deal, Upload
from tests.conftest import csv_bytes, get_report, startup_lock_free

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
HEADER = "customer,item,total,quantity,date"
BAD_TOTAL = "line 2: total 'abc' is not a non-negative number with at most 2 decimals"
SUPERUSER_ENV = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL")


class Tty(io.StringIO):
    """What a terminal looks like to a command: a stream that says it is a tty."""

    def isatty(self) -> bool:
        return True


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def deals_file(tmp_path, deals_csv) -> Path:
    path = tmp_path / "deals.csv"
    path.write_bytes(deals_csv)
    return path


@pytest.fixture
def bad_file(tmp_path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(HEADER, "bob,Ruby,abc,1,2018-12-14 08:29:52"))
    return path


@pytest.fixture
def loaded(api_client, deals_file, expected_report) -> dict:
    """The canonical file, imported: what a failed import must leave intact."""
    run("import_deals", str(deals_file))
    return expected_report


@pytest.fixture
def superuser_env(monkeypatch) -> dict:
    env = {"DJANGO_SUPERUSER_USERNAME": "boss", "DJANGO_SUPERUSER_PASSWORD": "s3cret-Pass"}
    for name in SUPERUSER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


# import_deals


def test_import_loads_the_file(api_client, deals_file, expected_report):
    output = run("import_deals", str(deals_file))

    upload = Upload.objects.get()
    assert output == f"Loaded 767 deals from {deals_file} (upload #{upload.pk})\n"
    assert (upload.status, upload.filename, upload.rows) == ("ok", "deals.csv", 767)
    response = get_report(api_client)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == expected_report


def test_import_of_a_bad_file_changes_nothing(api_client, loaded, bad_file):
    with pytest.raises(CommandError) as raised:
        run("import_deals", str(bad_file))

    assert str(raised.value) == BAD_TOTAL
    assert get_report(api_client).json() == loaded
    assert Deal.objects.count() == 767
    failed = Upload.objects.order_by("-id").first()
    assert (failed.status, failed.filename, failed.error) == ("error", "bad.csv", BAD_TOTAL)


@pytest.mark.parametrize(
    ("name", "reason"), [("missing.csv", "No such file or directory"), (".", "Is a directory")]
)
def test_import_of_an_unreadable_path(api_client, loaded, tmp_path, name, reason):
    path = tmp_path / name

    with pytest.raises(CommandError) as raised:
        run("import_deals", str(path))

    assert str(raised.value) == f"cannot read {path}: {reason}"
    assert get_report(api_client).json() == loaded
    assert Upload.objects.count() == 1


def test_import_of_a_file_named_in_bytes_that_are_not_utf8(api_client, tmp_path, deals_csv):
    # Python hands such a name over with lone surrogates (b"\xff" is "\udcff"); UTF-8 text
    # in PostgreSQL cannot hold them, so the history keeps U+FFFD in their place.
    path = Path(os.fsdecode(bytes(tmp_path) + b"/deals\xff.csv"))
    path.write_bytes(deals_csv)

    run("import_deals", str(path))

    assert list(Upload.objects.values_list("filename", "status")) == [("deals\ufffd.csv", "ok")]


def test_import_failure_exits_with_status_1(tmp_path):
    missing = tmp_path / "missing.csv"

    finished = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "manage.py", "import_deals", str(missing)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 1
    assert finished.stderr == f"CommandError: cannot read {missing}: No such file or directory\n"
    assert finished.stdout == ""


def test_import_shows_progress_on_a_terminal(deals_file, monkeypatch):
    monkeypatch.setattr(ingest_stream, "CHUNK_BYTES", 16384)  # the 46952-byte file: 3 reads
    terminal = Tty()

    call_command("import_deals", str(deals_file), stdout=terminal)

    upload = Upload.objects.get()
    assert terminal.getvalue() == (
        "\r[##########....................]  35%  0.02/0.04 MB"
        "\r[#####################.........]  70%  0.03/0.04 MB"
        "\r[##############################] 100%  0.04/0.04 MB"
        f"\nLoaded 767 deals from {deals_file} (upload #{upload.pk})\n"
    )


def test_import_ends_the_progress_line_on_failure(bad_file):
    terminal = Tty()

    with pytest.raises(CommandError):
        call_command("import_deals", str(bad_file), stdout=terminal)

    assert terminal.getvalue() == "\r[##############################] 100%  0.00/0.00 MB\n"


def test_progress_bar():
    terminal = Tty()
    bar = ProgressBar(OutputWrapper(terminal), total=3 * MB)

    bar.update(MB)
    bar.update(3 * MB)
    bar.finish()

    assert terminal.getvalue() == (
        "\r[##########....................]  33%  1.00/3.00 MB"
        "\r[##############################] 100%  3.00/3.00 MB\n"
    )


def test_progress_bar_of_a_pipe():
    terminal = Tty()
    bar = ProgressBar(OutputWrapper(terminal), total=0)

    bar.update(MB + MB // 2)

    assert terminal.getvalue() == "\r1.50 MB"


# the log line of each upload


def upload_log(caplog) -> tuple[int, str]:
    """The one line logged for the upload just made, its durations blanked."""
    [record] = caplog.records
    return record.levelno, re.sub(r"=\d+\.\d{3}s", "=Ns", record.getMessage())


def test_import_logs_one_line(deals_file, caplog):
    caplog.set_level(logging.INFO, logger="deals.services")

    run("import_deals", str(deals_file))

    pk = Upload.objects.get().pk
    line = f"upload {pk} file='deals.csv' outcome=ok rows=767 bytes=46952 duration=Ns"
    line += " steps: lock=Ns copy=Ns key=Ns deals_customer_totals=Ns"
    line += " deals_top_customers=Ns deals_top_customers_json=Ns commit=Ns"
    assert upload_log(caplog) == (logging.INFO, line)


def test_failed_import_logs_one_line(bad_file, caplog):
    caplog.set_level(logging.INFO, logger="deals.services")

    with pytest.raises(CommandError):
        run("import_deals", str(bad_file))

    pk = Upload.objects.get().pk
    size = bad_file.stat().st_size
    line = f"upload {pk} file='bad.csv' outcome=error rows=0 bytes={size} duration=Ns"
    line += f" error={BAD_TOTAL}"
    assert upload_log(caplog) == (logging.WARNING, line)


# refresh_reports


def test_refresh_reports_recomputes_from_the_deals_table(api_client):
    date = "2020-01-01T00:00:00Z"
    Deal.objects.bulk_create(
        [
            Deal(customer="ann", item="Опал", total=10, quantity=1, date=date),
            Deal(customer="ann", item="Рубин", total=20, quantity=1, date=date),
            Deal(customer="bob", item="Рубин", total=5, quantity=1, date=date),
        ]
    )
    before = get_report(api_client).json()

    output = run("refresh_reports")

    assert output == (
        "Refreshed the report views: deals_customer_totals, deals_top_customers,"
        " deals_top_customers_json\n"
    )
    assert before == {"response": []}
    assert get_report(api_client).json() == {
        "response": [
            {"username": "ann", "spent_money": 30, "gems": ["Рубин"]},
            {"username": "bob", "spent_money": 5, "gems": ["Рубин"]},
        ]
    }


# ensure_superuser


@pytest.mark.parametrize("unset", [SUPERUSER_ENV[:2], SUPERUSER_ENV[:1], SUPERUSER_ENV[1:2]])
def test_ensure_superuser_needs_both_variables(
    superuser_env, monkeypatch, django_user_model, unset
):
    for name in unset:
        monkeypatch.delenv(name)

    output = run("ensure_superuser")

    assert output == NOT_SET + "\n"
    assert not django_user_model.objects.exists()


def test_ensure_superuser_creates_one_that_can_log_in(superuser_env, client, django_user_model):
    output = run("ensure_superuser")

    user = django_user_model.objects.get()
    assert output == "Superuser 'boss' created\n"
    assert (user.username, user.email, user.is_active, user.is_staff, user.is_superuser) == (
        "boss",
        "",
        True,
        True,
        True,
    )
    assert client.login(username="boss", password="s3cret-Pass")
    assert client.get("/admin/deals/upload/").status_code == HTTPStatus.OK


def test_ensure_superuser_again_changes_nothing(superuser_env, django_user_model):
    run("ensure_superuser")
    password_hash = django_user_model.objects.get().password

    output = run("ensure_superuser")

    # The same hash: admin sessions (bound to it) survive a container restart.
    assert output == "Superuser 'boss' unchanged\n"
    assert django_user_model.objects.get().password == password_hash


def test_ensure_superuser_updates_the_password(superuser_env, monkeypatch, django_user_model):
    run("ensure_superuser")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "another-Pass")

    output = run("ensure_superuser")

    user = django_user_model.objects.get()
    assert output == "Superuser 'boss' updated\n"
    assert user.check_password("another-Pass")
    assert not user.check_password("s3cret-Pass")


def test_ensure_superuser_promotes_an_existing_user(superuser_env, monkeypatch, django_user_model):
    django_user_model.objects.create_user(username="boss", password="s3cret-Pass", is_active=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@example.com")

    output = run("ensure_superuser")

    user = django_user_model.objects.get()
    assert output == "Superuser 'boss' updated\n"
    assert (user.email, user.is_active, user.is_staff, user.is_superuser) == (
        "boss@example.com",
        True,
        True,
        True,
    )
    assert user.check_password("s3cret-Pass")


@pytest.fixture
def lock_seen_by_migrate(other_session):
    """Whether another session found the start-up lock free, each time migrate began."""
    seen = []

    def look(**kwargs):
        seen.append(startup_lock_free(other_session))

    pre_migrate.connect(look, dispatch_uid="test_lock_seen_by_migrate")
    yield seen
    pre_migrate.disconnect(dispatch_uid="test_lock_seen_by_migrate")


def test_prepare_database_migrates_then_ensures_in_one_run(
    superuser_env, settings, django_user_model, lock_seen_by_migrate, other_session
):
    settings.DEALS_ANALYST_USER = ""

    output = run("prepare_database")

    assert output == (
        "Operations to perform:\n"
        "  Apply all migrations: admin, auth, contenttypes, deals, sessions\n"
        "Running migrations:\n"
        "  No migrations to apply.\n"
        "Superuser 'boss' created\n"
        "DEALS_ANALYST_USER is not set: no analyst role.\n"
    )
    assert django_user_model.objects.get().username == "boss"
    # pre_migrate fires once per app; each time, another replica would have waited.
    assert lock_seen_by_migrate and not any(lock_seen_by_migrate)
    assert startup_lock_free(other_session)
