"""Password logins are throttled (django-axes): failures from one address lock that address out,
failures against one account lock that account out, on the dashboard and the admin alike."""

import pytest
from dashboard_staff import PASSWORD, make_staff
from django.conf import settings
from django.test import Client

LOGIN_PAGES = ["/dashboard/login/", "/admin/login/"]


def attempt(page: str, username: str, password: str, address: str):
    return Client(REMOTE_ADDR=address).post(page, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "login" not in response["Location"]


@pytest.fixture
def staff(transactional_db):
    return make_staff("staff-member", None, is_staff=True)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_right_password_works_after_a_few_mistakes(staff, page):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(page, staff.username, "wrong", "198.51.100.7").status_code == 200
    assert logged_in(attempt(page, staff.username, PASSWORD, "198.51.100.7"))


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_failures_from_one_address_lock_that_address_out(staff, page):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(page, f"guess-{n}", "wrong", "198.51.100.7")
    locked = attempt(page, staff.username, PASSWORD, "198.51.100.7")
    assert locked.status_code == 429
    # The account itself is not locked: its owner elsewhere still logs in.
    assert logged_in(attempt(page, staff.username, PASSWORD, "203.0.113.9"))


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_failures_against_one_account_lock_the_account_out(staff, page):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(page, staff.username, "wrong", f"198.51.100.{n + 1}")
    assert attempt(page, staff.username, PASSWORD, "203.0.113.9").status_code == 429
