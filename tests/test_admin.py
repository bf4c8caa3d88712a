import csv
import hashlib
import html
import io
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.templatetags.admin_list import results as rendered_rows
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import strip_tags

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


# What the pages show: titles, columns, fields, money as the API writes it.

SMALL_CSV = (
    b"customer,item,total,quantity,date\n"
    b"ann,Opal,10.50,1,2020-01-01 10:00:00\n"
    b"ann,Ruby,0.25,1,2020-01-01 11:00:00\n"
    b"bob,Opal,7.00,2,2020-01-01 12:00:00\n"
    b"cy,Opal,10.5,1,2020-01-01 13:00:00\n"
)
STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FINISHED = datetime(2026, 1, 2, 3, 4, 6, 250000, tzinfo=UTC)
# A long first line (a no-space run as well, which a browser cannot wrap) and a second line.
LONG_ERROR = (
    "internal error: the database refused the data: value too long for type "
    "character varying(255) in column filename, with the value " + "x" * 120 + "\n"
    "DETAIL: the upload was rolled back; the previous deals are intact"
)
LONG_FILENAME = "quarterly-gemstone-deals-export-from-the-old-accounting-system.csv"


@pytest.fixture
def small_upload() -> Upload:
    """Four deals with cents: ann spends 10.75, cy 10.5, bob 7."""
    return load(SMALL_CSV, "small.csv")


@pytest.fixture
def failed_upload() -> Upload:
    """A failed attempt with a long, two-line error, at a fixed time."""
    upload = Upload.objects.create(
        filename=LONG_FILENAME, size=46952, sha256="ab" * 32, status="error", error=LONG_ERROR
    )
    Upload.objects.filter(pk=upload.pk).update(started_at=STARTED, finished_at=FINISHED)
    upload.refresh_from_db()
    return upload


def columns(response) -> list[str]:
    return [header["text"] for header in result_headers(response.context["cl"])]


def cells(response) -> list[list[str]]:
    """Each row of a list page as the browser shows it: the text of every cell."""
    return [
        [html.unescape(strip_tags(cell)) for cell in row]
        for row in rendered_rows(response.context["cl"])
    ]


def fields(response) -> dict[str, str]:
    """A detail page's fields, label -> shown text (line breaks as <br>)."""
    return {
        field.field["label"]: html.unescape(str(field.contents()))
        for fieldset in response.context["adminform"]
        for line in fieldset
        for field in line
    }


def title(response) -> str:
    return re.search(r"<title>(.*)</title>", response.content.decode()).group(1)


def detail_page(model: str, pk) -> str:
    return f"{changelist(model)}{pk}/change/"


@pytest.fixture
def detail_pages(upload) -> dict[str, str]:
    """The detail page of the first row of each data page, after the canonical upload."""
    first_deal = Deal.objects.order_by("id").first()
    pks = {"topcustomer": 1, "customertotal": "resplendent", "deal": first_deal.pk}
    return {model: detail_page(model, pk) for model, pk in (pks | {"upload": upload.pk}).items()}


@pytest.mark.parametrize(
    ("model", "shown", "verbose_name"),
    [
        ("topcustomer", "#1 resplendent", "top customer"),
        ("customertotal", "resplendent", "customer total"),
        ("deal", "bellwether: Цаворит x 6 = 612", "deal"),
        ("upload", "upload {pk} deals.csv (ok)", "upload"),
    ],
)
def test_detail_pages_are_titled_by_what_they_show(
    admin_client, upload, detail_pages, model, shown, verbose_name
):
    response = admin_client.get(detail_pages[model])

    shown = shown.format(pk=upload.pk)
    assert response.status_code == HTTPStatus.OK
    assert title(response) == f"{shown} | View {verbose_name} | deals-csv admin"
    assert f"<h2>{shown}</h2>" in response.content.decode()


def test_money_reads_as_in_the_api_on_the_report_pages(admin_client, small_upload):
    top = admin_client.get(changelist("topcustomer"))
    totals = admin_client.get(changelist("customertotal"))

    assert cells(top) == [
        ["1", "ann", "10.75", "Opal"],
        ["2", "cy", "10.5", "Opal"],
        ["3", "bob", "7", "Opal"],
    ]
    assert cells(totals) == [
        ["ann", "10.75", "2", "Opal, Ruby"],
        ["cy", "10.5", "1", "Opal"],
        ["bob", "7", "1", "Opal"],
    ]
    assert fields(admin_client.get(detail_page("topcustomer", 3))) == {
        "rank": "3",
        "username": "bob",
        "spent money": "7",
        "gems": "Opal",
    }
    assert fields(admin_client.get(detail_page("customertotal", "cy"))) == {
        "username": "cy",
        "spent money": "10.5",
        "deals": "1",
        "gems": "Opal",
    }


def test_money_reads_as_in_the_api_on_the_deals_pages(admin_client, small_upload):
    ids = list(Deal.objects.order_by("id").values_list("id", flat=True))

    listed = admin_client.get(changelist("deal"))
    bob = admin_client.get(detail_page("deal", ids[2]))

    assert columns(listed) == ["ID", "customer", "item", "total", "quantity", "date"]
    assert cells(listed) == [
        [str(ids[3]), "cy", "Opal", "10.5", "1", "Jan. 1, 2020, 1 p.m."],
        [str(ids[2]), "bob", "Opal", "7", "2", "Jan. 1, 2020, noon"],
        [str(ids[1]), "ann", "Ruby", "0.25", "1", "Jan. 1, 2020, 11 a.m."],
        [str(ids[0]), "ann", "Opal", "10.5", "1", "Jan. 1, 2020, 10 a.m."],
    ]
    assert fields(bob) == {
        "ID": str(ids[2]),
        "customer": "bob",
        "item": "Opal",
        "total": "7",
        "quantity": "2",
        "date": "Jan. 1, 2020, noon",
    }
    assert title(bob) == "bob: Opal x 2 = 7 | View deal | deals-csv admin"


def test_upload_list_shows_short_excerpts(admin_client, failed_upload):
    response = admin_client.get(changelist("upload"))

    # The navigation sidebar would take 300 of the 1280 px the list needs.
    assert response.context["is_nav_sidebar_enabled"] is False

    assert columns(response) == [
        "ID",
        "started at",
        "status",
        "filename",
        "rows",
        "size",
        "duration",
        "error",
    ]
    assert cells(response) == [
        [
            str(failed_upload.pk),
            "Jan. 2, 2026, 3:04 a.m.",
            "Error",
            "quarterly-gemstone-deals-export-from-th…",
            "-",
            "46952",
            "1.250 s",
            "internal error: the database refused the data: value too lo…",
        ]
    ]


def test_upload_excerpt_marks_a_cut_second_line(admin_client, upload):
    Upload.objects.filter(pk=upload.pk).update(error="line 1: bad header\nline 2: bad value")

    response = admin_client.get(changelist("upload"))

    assert cells(response)[0][-1] == "line 1: bad header…"


def test_upload_detail_shows_every_field_and_the_whole_error(admin_client, failed_upload):
    response = admin_client.get(detail_page("upload", failed_upload.pk))

    first_line, second_line = LONG_ERROR.split("\n")
    assert fields(response) == {
        "ID": str(failed_upload.pk),
        "status": "Error",
        "filename": LONG_FILENAME,
        "size": "46952",
        "sha256": "ab" * 32,
        "rows": "-",
        "started at": "Jan. 2, 2026, 3:04 a.m.",
        "finished at": "Jan. 2, 2026, 3:04 a.m.",
        "duration": "1.250 s",
        "error": f"{first_line}<br>{second_line}",
    }
    # The title cuts the name at 60 characters; the field above shows it whole.
    short_name = "quarterly-gemstone-deals-export-from-the-old-accounting-sys…"
    shown = f"upload {failed_upload.pk} {short_name} (error)"
    assert title(response) == f"{shown} | View upload | deals-csv admin"


def test_view_site_leads_to_the_api_docs(admin_client):
    response = admin_client.get(ADMIN)

    assert response.context["site_url"] == "/api/docs/"
    assert '<a href="/api/docs/">View site</a>' in response.content.decode()


@pytest.mark.parametrize("model", MODELS)
def test_no_data_page_offers_to_change_anything_even_to_a_superuser(
    admin_client, detail_pages, model
):
    response = admin_client.get(detail_pages[model])

    html_page = response.content.decode()
    offered = {
        key: response.context[key]
        for key in ["has_add_permission", "has_change_permission", "has_delete_permission"]
    }
    assert response.status_code == HTTPStatus.OK
    assert offered == dict.fromkeys(offered, False)
    assert re.findall(r'name="_(?:save|continue|addanother)"|class="deletelink"', html_page) == []
    form = html_page.split('id="content-main"')[1].split("</form>")[0]
    assert re.findall(r'<(?:input(?! type="hidden")|textarea|select)', form) == []


# Users and groups: superusers only.

AUTH = "/admin/auth/"
VIEW_PERMISSIONS = ["view_customertotal", "view_deal", "view_topcustomer", "view_upload"]


@pytest.fixture
def staff_with_user_permissions(django_user_model):
    """Staff given every permission on users and groups, which must still show them nothing."""
    user = django_user_model.objects.create_user(username="hr", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="auth"))
    return user


def test_superuser_sees_users_and_groups_with_every_power(admin_client):
    response = admin_client.get(ADMIN)

    [app] = [app for app in response.context["app_list"] if app["app_label"] == "auth"]
    all_powers = {"add": True, "change": True, "delete": True, "view": True}
    assert {model["object_name"]: model["perms"] for model in app["models"]} == {
        "Group": all_powers,
        "User": all_powers,
    }


def test_superuser_adds_a_staff_user_who_sees_one_page(
    admin_client, client, django_user_model, upload
):
    added = admin_client.post(
        f"{AUTH}user/add/",
        {
            "username": "clerk",
            "usable_password": "true",
            "password1": "a-long-enough-password",
            "password2": "a-long-enough-password",
        },
    )
    clerk = django_user_model.objects.get(username="clerk")
    view_deal = Permission.objects.get(codename="view_deal")
    changed = admin_client.post(
        f"{AUTH}user/{clerk.pk}/change/",
        {
            "username": "clerk",
            "is_active": "on",
            "is_staff": "on",
            "user_permissions": [view_deal.pk],
            "date_joined_0": "2026-01-02",
            "date_joined_1": "03:04:05",
        },
    )
    client.login(username="clerk", password="a-long-enough-password")

    assert (added.status_code, changed.status_code) == (HTTPStatus.FOUND, HTTPStatus.FOUND)
    assert client.get(changelist("deal")).status_code == HTTPStatus.OK
    assert client.get(changelist("upload")).status_code == HTTPStatus.FORBIDDEN
    assert client.get(f"{AUTH}user/").status_code == HTTPStatus.FORBIDDEN


def test_superuser_grants_a_view_permission_through_a_group(admin_client, client, viewer, upload):
    view_upload = Permission.objects.get(codename="view_upload")

    response = admin_client.post(
        f"{AUTH}group/add/", {"name": "auditors", "permissions": [view_upload.pk]}
    )
    viewer.groups.add(Group.objects.get(name="auditors"))
    client.force_login(viewer)

    assert response.status_code == HTTPStatus.FOUND
    assert client.get(changelist("upload")).status_code == HTTPStatus.OK


def test_superuser_deletes_a_user(admin_client, viewer):
    response = admin_client.post(f"{AUTH}user/{viewer.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert not type(viewer).objects.filter(pk=viewer.pk).exists()


def test_only_view_permissions_are_offered(admin_client, admin_user):
    user_page = admin_client.get(f"{AUTH}user/{admin_user.pk}/change/")
    group_page = admin_client.get(f"{AUTH}group/add/")

    offered = {
        "user": user_page.context["adminform"].form.fields["user_permissions"].queryset,
        "group": group_page.context["adminform"].form.fields["permissions"].queryset,
    }
    assert {
        page: sorted(permissions.values_list("codename", flat=True))
        for page, permissions in offered.items()
    } == {"user": VIEW_PERMISSIONS, "group": VIEW_PERMISSIONS}


@pytest.mark.parametrize(
    ("method", "page"),
    [
        ("get", "user/"),
        ("get", "group/"),
        ("post", "user/add/"),
        ("post", "group/add/"),
    ],
)
def test_staff_cannot_see_or_add_users_whatever_their_permissions(
    client, staff_with_user_permissions, method, page
):
    client.force_login(staff_with_user_permissions)

    response = getattr(client, method)(f"{AUTH}{page}", {"username": "x", "name": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == FORBIDDEN


def test_staff_cannot_make_themselves_superuser(client, staff_with_user_permissions):
    client.force_login(staff_with_user_permissions)
    user = staff_with_user_permissions

    response = client.post(
        f"{AUTH}user/{user.pk}/change/",
        {"username": "hr", "is_staff": "on", "is_superuser": "on", "is_active": "on"},
    )

    user.refresh_from_db()
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert (user.is_superuser, client.get(ADMIN).context["app_list"]) == (False, [])


def test_running_upload_has_no_end_nor_duration(admin_client):
    running = Upload.objects.create(filename="big.csv", status="running")

    listed = admin_client.get(changelist("upload"))
    shown = fields(admin_client.get(detail_page("upload", running.pk)))

    assert cells(listed)[0][-2:] == ["-", "-"]
    assert (shown["finished at"], shown["duration"]) == ("-", "-")


@pytest.mark.parametrize("page", ["list", "detail"])
def test_upload_pages_wrap_long_values(admin_client, detail_pages, page):
    response = admin_client.get(
        {"list": changelist("upload"), "detail": detail_pages["upload"]}[page]
    )
    stylesheet = admin_client.get("/static/deals/admin.css")

    assert '<link href="/static/deals/admin.css" media="all" rel="stylesheet">' in (
        response.content.decode()
    )
    assert b"overflow-wrap: anywhere;" in b"".join(stylesheet.streaming_content)


def test_staff_change_their_own_password(client, viewer):
    viewer.set_password("old-password-of-the-viewer")
    viewer.save()
    client.force_login(viewer)

    response = client.post(
        "/admin/password_change/",
        {
            "old_password": "old-password-of-the-viewer",
            "new_password1": "new-password-of-the-viewer",
            "new_password2": "new-password-of-the-viewer",
        },
    )

    viewer.refresh_from_db()
    assert response.status_code == HTTPStatus.FOUND
    assert viewer.check_password("new-password-of-the-viewer")
