"""Times in the reader's zone, named beside them: the profile's setting, else the browser's; the API stays UTC."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import formats

from cabinet.tests.test_browser import browser  # noqa: F401 (the Chromium fixture)
from conftest import ALICE_CHAT, PASSWORD, link, make_user
from relay.models import Message
from relaybot.models import LinkCode

MESSAGES = reverse("cabinet:messages")
PROFILE = reverse("cabinet:profile")
TIME_ZONE = reverse("cabinet:time-zone")
# 23:30 UTC on New Year's Eve: the next day in Tokyo, still the same day in New York.
ACCEPTED = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


@pytest.fixture
def message(alice):
    chat = link(alice, ALICE_CHAT)
    return Message.objects.create(
        user=alice, destination=chat, text="on time", created_at=ACCEPTED, status="sent", sent_at=ACCEPTED
    )


def shown_time(html: str) -> str:
    (row,) = re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time>", html)
    return row


def test_the_browsers_zone_from_its_cookie(message, alice_web):
    # Before the page's script has told the server anything: UTC, and it says so.
    assert shown_time(alice_web.get(MESSAGES).content.decode()) == "Dec. 31, 2026, 11:30 p.m. UTC"
    alice_web.cookies["tz"] = "Asia/Tokyo"
    html = alice_web.get(MESSAGES).content.decode()
    assert shown_time(html) == "Jan. 1, 2027, 8:30 a.m. Asia/Tokyo"
    assert 'datetime="2027-01-01T08:30:00+09:00"' in html


def test_the_profiles_zone_beats_the_browsers(message, alice, alice_web):
    alice.time_zone = "America/New_York"
    alice.save()
    alice_web.cookies["tz"] = "Asia/Tokyo"
    assert shown_time(alice_web.get(MESSAGES).content.decode()) == "Dec. 31, 2026, 6:30 p.m. America/New_York"
    # The message page too, both of its times.
    page = alice_web.get(reverse("cabinet:message", args=[message.pk])).content.decode()
    assert page.count("Dec. 31, 2026, 6:30 p.m. America/New_York") == 2


@pytest.mark.parametrize("cookie", ["Mars/Olympus_Mons", "../../etc/passwd", "Asia/Tokyo; x=1", "", "A" * 300])
def test_a_cookie_that_names_no_zone_leaves_utc(message, alice_web, cookie):
    # The zone of an earlier request does not linger: each request decides anew.
    alice_web.cookies["tz"] = "Asia/Tokyo"
    assert shown_time(alice_web.get(MESSAGES).content.decode()).endswith("Asia/Tokyo")
    alice_web.cookies["tz"] = cookie
    response = alice_web.get(MESSAGES)
    assert response.status_code == 200
    assert shown_time(response.content.decode()) == "Dec. 31, 2026, 11:30 p.m. UTC"


def test_the_link_codes_expiry_is_in_the_readers_zone(tg, alice, alice_web):
    alice_web.cookies["tz"] = "Asia/Kolkata"
    page = alice_web.post(reverse("cabinet:telegram-connect"), follow=True).content.decode()
    expires = LinkCode.objects.get(user=alice).expires_at.astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"This code works once, until {formats.time_format(expires)} Asia/Kolkata (" in page


def test_the_api_keeps_iso_8601_utc_whatever_the_reader_zone(message, alice, alice_web, alice_api):
    alice.time_zone = "Asia/Tokyo"
    alice.save()
    alice_web.cookies["tz"] = "Asia/Tokyo"
    # A cabinet page first, on the same thread: its zone must not stay behind.
    assert "Asia/Tokyo" in alice_web.get(MESSAGES).content.decode()
    alice_api.cookies["tz"] = "Asia/Tokyo"
    body = alice_api.get(f"/api/v1/messages/{message.pk}/").json()
    assert body["created_at"] in ("2026-12-31T23:30:00Z", "2026-12-31T23:30:00+00:00")
    # Logged in with the cabinet's session, through the API: UTC still.
    body = alice_web.get(f"/api/v1/messages/{message.pk}/").json()
    assert body["created_at"] in ("2026-12-31T23:30:00Z", "2026-12-31T23:30:00+00:00")


def test_the_profile_sets_and_clears_the_zone(message, alice, alice_web):
    alice_web.cookies["tz"] = "Asia/Tokyo"
    page = alice_web.get(PROFILE).content.decode()
    assert "The cabinet shows times in Asia/Tokyo." in page
    assert '<option value="" selected>Your browser&#x27;s (Asia/Tokyo)</option>' in page

    response = alice_web.post(TIME_ZONE, {"time_zone": "Europe/Moscow"})
    assert (response.status_code, response.url) == (303, PROFILE + "#time-zone")
    alice.refresh_from_db()
    assert alice.time_zone == "Europe/Moscow"
    page = alice_web.get(PROFILE).content.decode()
    assert "Times are now shown in Europe/Moscow." in page
    assert '<option value="Europe/Moscow" selected>' in page
    assert shown_time(alice_web.get(MESSAGES).content.decode()) == "Jan. 1, 2027, 2:30 a.m. Europe/Moscow"

    # Back to the browser's.
    alice_web.post(TIME_ZONE, {"time_zone": ""})
    alice.refresh_from_db()
    assert alice.time_zone == ""
    assert shown_time(alice_web.get(MESSAGES).content.decode()).endswith("Asia/Tokyo")


def test_a_zone_that_does_not_exist_is_refused_on_the_profile(alice, alice_web):
    response = alice_web.post(TIME_ZONE, {"time_zone": "Mars/Olympus_Mons"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Select a valid choice. Mars/Olympus_Mons is not one of the available choices." in page
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_a_time_zone_is_only_changed_by_a_post(alice, alice_web):
    response = alice_web.get(TIME_ZONE)
    assert response.status_code in (302, 303)
    assert response.url.startswith(PROFILE)


# -- in a browser: the zone detected by the page's script ------------------------------


def test_chromium_in_tokyo_sees_tokyo_time_and_the_profile_overrides_it(browser, live_server, tg):  # noqa: F811
    user = make_user("tokyo", "Tokyo")
    Message.objects.create(user=user, text="on time", created_at=ACCEPTED, status="sent")
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    page = context.new_page()
    try:
        # The first page, before logging in, tells the server the browser's zone.
        page.goto(f"{live_server.url}/cabinet/login/")
        page.wait_for_function("document.cookie.includes('tz=Asia/Tokyo')")
        page.get_by_label("Username", exact=True).fill("tokyo")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password", exact=True).press("Enter")
        page.wait_for_url(f"{live_server.url}/cabinet/")
        page.goto(f"{live_server.url}/cabinet/messages/")
        assert page.locator("li.message time").inner_text() == "Jan. 1, 2027, 8:30 a.m. Asia/Tokyo"

        # The link code's expiry, in the same zone.
        page.goto(f"{live_server.url}/cabinet/")
        page.get_by_role("button", name="Connect Telegram").click()
        page.get_by_text("This code works once").wait_for()
        assert "Asia/Tokyo" in page.get_by_text("This code works once").inner_text()

        # A zone chosen in the profile wins over the browser's.
        page.goto(f"{live_server.url}/cabinet/profile/")
        page.get_by_role("combobox", name="Time zone").select_option("America/New_York")
        page.locator("#time-zone").get_by_role("button", name="Save").click()
        page.get_by_text("Times are now shown in America/New_York.").wait_for()
        page.goto(f"{live_server.url}/cabinet/messages/")
        assert page.locator("li.message time").inner_text() == "Dec. 31, 2026, 6:30 p.m. America/New_York"
    finally:
        context.close()
