"""Every route of the URL configuration x every kind of user -> the expected answer.

The table is checked against the URL configuration itself: a new page or endpoint without a row fails
`test_every_route_has_a_row`, so none can be added without deciding who may use it. A route that answers more
than one method for changes (PATCH, DELETE) has a row per method in OTHER_METHODS too.
Patient A and the objects under test belong to clinic A; patient B is another patient of clinic A. Each role's
request runs in a transaction rolled back after it, so a delete by one role leaves the record for the next.
"""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import get_resolver

from tests.admin_pages import CLINIC_PAGES, NOT_CLINIC_DATA
from tests.conftest import api_client
from tests.route_matrix import OTHER_METHODS, PASSES, ROLES, ROUTES, Route, World, route_names


def test_every_route_has_a_row():
    names = {name for name in route_names(get_resolver().url_patterns) if not name.startswith("admin:")}
    assert names - set(ROUTES) == set(), "routes without a row in the permission matrix"
    assert set(ROUTES) - names == set(), "rows for routes that no longer exist"
    assert {key.split()[0] for key in OTHER_METHODS} <= names, "rows for routes that no longer exist"


# The admin site's own routes; each of its model pages is a row of tests/test_admin_scoping.py, which drives it as a
# staff user of one clinic, or holds no clinic's data.
ADMIN_SITE_ROUTES = {
    "index",
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "jsi18n",
    "app_list",
    "autocomplete",
    "view_on_site",
    "auth_user_password_change",
}


def test_every_admin_route_is_the_sites_own_or_a_page_with_a_row():
    model_pages = tuple(f"{label.replace('.', '_')}_" for label in (*CLINIC_PAGES, *NOT_CLINIC_DATA))
    admin_routes = {
        name.removeprefix("admin:") for name in route_names(get_resolver().url_patterns) if name.startswith("admin:")
    }
    unexplained = {name for name in admin_routes if name not in ADMIN_SITE_ROUTES and not name.startswith(model_pages)}
    assert unexplained == set(), "admin routes without a row here or in tests/admin_pages.py"


def answer(world: World, route: Route, role: str) -> int:
    with transaction.atomic():
        status = answer_now(world, route, role)
        transaction.set_rollback(True)
    return status


def answer_now(world: World, route: Route, role: str) -> int:
    url = route.url.format(**world.values)
    user = world.user(role)
    if url.startswith("/api/"):
        client = api_client(user)
        return getattr(client, route.method)(url, route.data, format="json").status_code
    client = Client()
    if user is not None:
        client.force_login(user)
    return getattr(client, route.method)(url, route.data).status_code


@pytest.mark.parametrize("name", sorted(ROUTES) + sorted(OTHER_METHODS))
def test_route_answers_each_kind_of_user_as_expected(db, name):
    world = World()
    route = ROUTES.get(name) or OTHER_METHODS[name]
    got = {role: answer(world, route, role) for role in ROLES}
    expected = dict(route.expected)
    for role, status in got.items():
        if expected[role] == PASSES and status not in (401, 403, 404) and status < 500:
            expected[role] = status
    assert got == expected


def test_the_admin_site_is_for_staff_only(db):
    world = World()
    for role in ROLES:
        client = Client()
        if world.user(role) is not None:
            client.force_login(world.user(role))
        answer = client.get("/admin/")
        assert answer.status_code == 302 and "/admin/login/" in answer["Location"], role
