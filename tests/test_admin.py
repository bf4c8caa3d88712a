import csv
import hashlib
import io
from collections import defaultdict
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals import admin as deals_admin
from deals.errors import DealsError
from deals.models import Deal, Upload
from deals.selectors import table_row_estimate
from deals.services import deals_replace_from_csv

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"
MODELS = ["topcustomer", "customertotal", "deal", "upload"]
FORBIDDEN = {"Status": "Error", "Desc": "permission denied"}


def changelist(model: str) -> str:
    return f"{ADMIN}deals/{model}/"


def load(content: bytes, filename: str) -> Upload:
    return deals_replace_from_csv(file=io.BytesIO(content), filename=filename)


@pytest.fixture
def upload(deals_csv) -> Upload:
    """The canonical file, loaded through the service."""
    return load(deals_csv, "deals.csv")


@pytest.fixture
def deal_rows(deals_csv) -> list[dict]:
    return list(csv.DictReader(io.StringIO(deals_csv.decode("utf-8"))))


@pytest.fixture
def customers(deal_rows) -> dict[str, dict]:
    """What deals_customer_totals must hold, computed from the file in Python."""
    totals = defaultdict(lambda: {"spent_money": Decimal(0), "deals": 0, "gems": set()})
    for row in deal_rows:
        customer = totals[row["customer"]]
        customer["spent_money"] += Decimal(row["total"])
        customer["deals"] += 1
        customer["gems"].add(row["item"])
    return {name: {**data, "gems": sorted(data["gems"])} for name, data in totals.items()}


@pytest.fixture
def viewer(django_user_model):
    """Staff that may only view the customer totals."""
    user = django_user_model.objects.create_user(username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customertotal"))
    return user


def results(response) -> list:
    return list(response.context["cl"].result_list)


def test_anonymous_is_sent_to_login(client):
    response = client.get(ADMIN)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_login_page_is_html(client):
    response = client.get("/admin/login/")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b'name="password"' in response.content


def test_index_lists_the_four_read_only_admins(admin_client):
    response = admin_client.get(ADMIN)

    [app] = [app for app in response.context["app_list"] if app["app_label"] == "deals"]
    models = {model["object_name"]: (model["perms"], model["add_url"]) for model in app["models"]}
    read_only = {"add": False, "change": False, "delete": False, "view": True}
    assert response.status_code == HTTPStatus.OK
    assert models == {
        "CustomerTotal": (read_only, None),
        "Deal": (read_only, None),
        "TopCustomer": (read_only, None),
        "Upload": (read_only, None),
    }


@pytest.mark.parametrize("model", MODELS)
def test_changelist_has_no_add_link_nor_actions(admin_client, upload, model):
    response = admin_client.get(changelist(model))

    assert response.status_code == HTTPStatus.OK
    assert f'href="{changelist(model)}add/"' not in response.content.decode()
    assert response.context["action_form"] is None


def test_top_customers(admin_client, upload, expected_report):
    response = admin_client.get(changelist("topcustomer"))

    rows = [
        {"username": row.username, "spent_money": row.spent_money, "gems": row.gems}
        for row in results(response)
    ]
    assert response.status_code == HTTPStatus.OK
    assert [row.rank for row in results(response)] == [1, 2, 3, 4, 5]
    assert rows == expected_report["response"]
    assert "Рубин, Сапфир, Танзанит" in response.content.decode()


def test_customer_totals_by_spent_money(admin_client, upload, customers):
    response = admin_client.get(changelist("customertotal"))

    by_spent = sorted(customers, key=lambda name: (-customers[name]["spent_money"], name))
    assert response.status_code == HTTPStatus.OK
    assert response.context["cl"].result_count == len(customers)
    assert [row.username for row in results(response)] == by_spent


def test_customer_totals_search(admin_client, upload, customers):
    response = admin_client.get(changelist("customertotal"), {"q": "splend"})

    rows = [
        {"spent_money": row.spent_money, "deals": row.deals, "gems": row.gems}
        for row in results(response)
    ]
    assert response.status_code == HTTPStatus.OK
    assert [row.username for row in results(response)] == ["resplendent"]
    assert rows == [customers["resplendent"]]


def test_deals_page(admin_client, upload, deal_rows):
    response = admin_client.get(changelist("deal"))

    cl = response.context["cl"]
    assert response.status_code == HTTPStatus.OK
    assert cl.result_count == len(deal_rows) == 767
    assert [row.pk for row in cl.result_list] == list(
        Deal.objects.order_by("-id").values_list("id", flat=True)[:100]
    )


def test_deals_page_reads_deals_twice_without_distinct(admin_client, upload):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(changelist("deal"), {"item": "Рубин"})

    on_deals = [query["sql"] for query in queries if '"deals_deal"' in query["sql"]]
    assert [statement.split(" FROM ")[0] for statement in on_deals] == [
        'SELECT COUNT(*) AS "__count"',
        'SELECT "deals_deal"."id", "deals_deal"."customer", "deals_deal"."item", '
        '"deals_deal"."total", "deals_deal"."quantity", "deals_deal"."date"',
    ]


def test_deals_item_filter_lists_every_item(admin_client, upload, deal_rows):
    response = admin_client.get(changelist("deal"))

    [item_filter] = response.context["cl"].filter_specs
    choices = [choice["display"] for choice in item_filter.choices(response.context["cl"])]
    assert choices == ["All", *sorted({row["item"] for row in deal_rows})]


def test_deals_filtered_by_item(admin_client, upload, deal_rows):
    response = admin_client.get(changelist("deal"), {"item": "Рубин"})

    assert response.status_code == HTTPStatus.OK
    assert {row.item for row in results(response)} == {"Рубин"}
    assert response.context["cl"].result_count == sum(row["item"] == "Рубин" for row in deal_rows)


def test_deals_search_is_by_exact_customer(admin_client, upload, deal_rows):
    exact = admin_client.get(changelist("deal"), {"q": "resplendent"})
    partial = admin_client.get(changelist("deal"), {"q": "resplend"})

    expected = sum(row["customer"] == "resplendent" for row in deal_rows)
    assert {row.customer for row in results(exact)} == {"resplendent"}
    assert exact.context["cl"].result_count == expected
    assert partial.context["cl"].result_count == 0


def test_deals_search_finds_a_name_with_spaces(admin_client, upload):
    Deal.objects.create(
        customer="John Smith", item="Opal", total=1, quantity=1, date="2020-01-01T00:00Z"
    )

    response = admin_client.get(changelist("deal"), {"q": "John Smith"})

    assert [row.customer for row in results(response)] == ["John Smith"]


def test_deals_count_is_estimated_on_a_large_table(admin_client, upload, monkeypatch):
    monkeypatch.setattr(deals_admin, "ESTIMATE_FROM_ROWS", 700)
    # Rows added behind ANALYZE's back: the planner still believes there are 767.
    Deal.objects.create(customer="x", item="y", total=1, quantity=1, date="2020-01-01T00:00Z")

    unfiltered = admin_client.get(changelist("deal"))
    filtered = admin_client.get(changelist("deal"), {"q": "x"})

    assert unfiltered.context["cl"].result_count == 767
    assert filtered.context["cl"].result_count == 1


def test_deals_count_is_exact_when_never_analyzed(admin_client, monkeypatch):
    monkeypatch.setattr(deals_admin, "ESTIMATE_FROM_ROWS", 1)
    Deal.objects.create(customer="x", item="y", total=1, quantity=1, date="2020-01-01T00:00Z")

    response = admin_client.get(changelist("deal"))

    # Never analyzed: -1, or 0 after a vacuum of rolled-back rows; either way, not 1.
    assert table_row_estimate("deals_deal") < 1
    assert response.context["cl"].result_count == 1


def test_upload_history(admin_client, upload, deals_csv):
    with pytest.raises(DealsError):
        load(b"customer,item\n", "bad.csv")

    response = admin_client.get(changelist("upload"))

    rows = [
        (row.status, row.filename, row.rows, row.size, row.sha256, row.error)
        for row in results(response)
    ]
    bad_size, bad_sha256 = 14, hashlib.sha256(b"customer,item\n").hexdigest()
    good_sha256 = hashlib.sha256(deals_csv).hexdigest()
    missing = (
        "line 1: header misses total, quantity, date (expected customer,item,total,quantity,date)"
    )
    assert response.status_code == HTTPStatus.OK
    assert rows == [
        ("error", "bad.csv", None, bad_size, bad_sha256, missing),
        ("ok", "deals.csv", 767, len(deals_csv), good_sha256, ""),
    ]
    shown = upload.duration.total_seconds()
    assert f'<td class="field-duration">{shown:.3f} s</td>' in response.content.decode()


def test_upload_history_filtered_by_status(admin_client, upload):
    with pytest.raises(DealsError):
        load(b"", "empty.csv")

    response = admin_client.get(changelist("upload"), {"status__exact": "ok"})

    assert [row.pk for row in results(response)] == [upload.pk]


def test_object_page_is_read_only(admin_client, upload):
    response = admin_client.get(f"{changelist('topcustomer')}1/change/")

    assert response.status_code == HTTPStatus.OK
    assert "resplendent" in response.content.decode()
    assert b'name="_save"' not in response.content


@pytest.mark.parametrize("model", MODELS)
def test_add_is_forbidden(admin_client, model):
    response = admin_client.post(f"{changelist(model)}add/", {})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == FORBIDDEN


@pytest.mark.parametrize("action", ["change", "delete"])
@pytest.mark.parametrize(
    ("model", "pk"), [("topcustomer", "1"), ("customertotal", "resplendent"), ("upload", None)]
)
def test_change_and_delete_are_forbidden(admin_client, upload, expected_report, model, pk, action):
    url = f"{changelist(model)}{pk or upload.pk}/{action}/"

    response = admin_client.post(url, {"post": "yes", "username": "x", "rank": "9"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == FORBIDDEN
    assert admin_client.get(changelist("topcustomer")).context["cl"].result_count == 5
    assert Upload.objects.get() == upload


@pytest.mark.parametrize("action", ["change", "delete"])
def test_deal_change_and_delete_are_forbidden(admin_client, upload, action):
    deal = Deal.objects.order_by("id").first()

    response = admin_client.post(f"{changelist('deal')}{deal.pk}/{action}/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Deal.objects.get(pk=deal.pk) == deal
    assert Deal.objects.count() == 767


def test_bulk_delete_action_is_refused(admin_client, upload):
    response = admin_client.post(
        changelist("upload"),
        {"action": "delete_selected", "_selected_action": [upload.pk], "post": "yes"},
    )

    assert response.status_code == HTTPStatus.OK
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_staff_with_view_permission_sees_only_that(client, viewer, upload, customers):
    client.force_login(viewer)

    allowed = client.get(changelist("customertotal"))
    refused = client.get(changelist("deal"))

    assert allowed.status_code == HTTPStatus.OK
    assert allowed.context["cl"].result_count == len(customers)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert refused.json() == FORBIDDEN


def test_staff_without_permission_sees_no_models(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="clerk", is_staff=True))

    response = client.get(ADMIN)

    assert response.status_code == HTTPStatus.OK
    assert response.context["app_list"] == []


def test_non_staff_is_sent_to_login(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="customer"))

    response = client.get(changelist("deal"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/admin/login/?next=/admin/deals/deal/"
