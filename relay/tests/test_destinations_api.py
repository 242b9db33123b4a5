"""/api/v1/destinations/: listing, reading, changing and removing destinations, and sending to them with `to`."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import issue_token
from conftest import ALICE_CHAT, BOB_CHAT, make_due, poll_bot, run_sweep, text_update
from relay.models import Destination
from relay.tests.helpers import LINK_URL, MESSAGES_URL, delivered_text, get_message, post_text, streamed_json, texts
from relay.tests.linking import (
    BOT_USERNAME,
    DESTINATIONS_URL,
    destination,
    destination_url,
    link_group,
    new_code,
)
from relaybot.texts import text as bot_text

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {
    "id",
    "label",
    "kind",
    "title",
    "chat_id",
    "thread_id",
    "is_default",
    "unreachable_reason",
    "header",
    "silent",
    "bundle",
    "linked_at",
}


def assert_no_such_destination(response) -> None:
    """`to` (or a filter, or a token's destination) names none of the account's destinations."""
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "destination_not_found"


def assert_label_taken(response) -> None:
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "label_taken"


@pytest.fixture(autouse=True)
def back_to_back(settings):
    """Pacing has tests of its own: here a group, like a private chat, may receive back to back."""
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = 0


@pytest.fixture
def one_second_apart(settings):
    """A chat gets one message a second, so a second message waits in the queue."""
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 1
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = 1


@pytest.fixture
def team(tg, alice_linked) -> tuple[int, dict]:
    """Alice's group "Team", linked as "team" besides her private chat."""
    return link_group(tg, alice_linked, "Team", "team")


def relayed(tg, chat_id: int) -> list[str]:
    """What the relay sent to the chat, without the bot's own replies there."""
    return [record["text"] for record in tg.sent(chat_id=chat_id) if not record["text"].startswith(("Готово", "Done"))]


def send(api: APIClient, text: str, to=None):
    body = {"text": text} if to is None else {"text": text, "to": to}
    return api.post(MESSAGES_URL, body, format="json")


def patch(api: APIClient, destination_id: int, **changes):
    return api.patch(destination_url(destination_id), changes, format="json")


def listed(api: APIClient) -> list[dict]:
    response = api.get(DESTINATIONS_URL)
    assert response.status_code == 200, response.content
    return response.json()


def defaults(api: APIClient) -> list[str]:
    return [each["label"] for each in listed(api) if each["is_default"]]


# -- list and read -----------------------------------------------------------------


def test_the_list_shows_every_destination_with_exactly_its_fields_the_default_first(tg, alice_linked, team):
    group_id, _ = team

    body = listed(alice_linked)

    assert [set(each) for each in body] == [FIELDS, FIELDS]
    private, group = body
    assert {key: private[key] for key in FIELDS - {"id", "linked_at"}} == {
        "label": "me",
        "kind": "private",
        "title": "Alice",
        "chat_id": ALICE_CHAT,
        "thread_id": None,
        "is_default": True,
        "unreachable_reason": "",
        "header": True,
        "silent": False,
        "bundle": False,
    }
    assert {key: group[key] for key in FIELDS - {"id", "linked_at"}} == {
        "label": "team",
        "kind": "group",
        "title": "Team",
        "chat_id": group_id,
        "thread_id": None,
        "is_default": False,
        "unreachable_reason": "",
        "header": True,
        "silent": False,
        "bundle": False,
    }
    assert private["linked_at"] <= group["linked_at"]


def test_one_destination_reads_as_it_is_listed(tg, alice_linked, team):
    _, group = team

    response = alice_linked.get(destination_url(group["id"]))

    assert response.status_code == 200
    assert response.json() == group


def test_an_account_without_destinations_lists_none(alice_api):
    assert listed(alice_api) == []


def test_an_unknown_destination_is_404(alice_linked):
    missing = Destination.objects.order_by("-pk").first().pk + 1

    assert alice_linked.get(destination_url(missing)).status_code == 404
    assert patch(alice_linked, missing, silent=True).status_code == 404
    assert alice_linked.delete(destination_url(missing)).status_code == 404


# -- isolation -----------------------------------------------------------------------


def test_another_account_never_sees_nor_touches_alices_destinations(tg, alice_linked, bob_linked, team):
    _, group = team
    before = listed(alice_linked)

    assert [each["chat_id"] for each in listed(bob_linked)] == [BOB_CHAT]
    for each in before:
        url = destination_url(each["id"])
        assert bob_linked.get(url).status_code == 404
        assert bob_linked.patch(url, {"label": "mine", "is_default": True}, format="json").status_code == 404
        assert bob_linked.delete(url).status_code == 404
    assert listed(alice_linked) == before
    assert [each["chat_id"] for each in listed(bob_linked)] == [BOB_CHAT]


def test_to_naming_another_accounts_destination_is_not_found(tg, alice_linked, bob_linked):
    _, bobs = link_group(tg, bob_linked, "Bob's team", "bobs-team")

    for to in ["bobs-team", bobs["id"], str(bobs["id"])]:
        assert_no_such_destination(send(alice_linked, "not for Bob", to=to))
    assert relayed(tg, bobs["chat_id"]) == []
    assert get_message_count(alice_linked) == 0


def get_message_count(api: APIClient) -> int:
    response = api.get(MESSAGES_URL)
    assert response.status_code == 200
    return len(response.json()["results"])


# -- labels --------------------------------------------------------------------------


INVALID_LABELS = ["", "two words", "dot.ted", "slash/ed", "ünïcode", "emoji🙂", "a" * 65, "in\tside", "new\nline"]
RESERVED_LABELS = ["api", "API", "cabinet", "docs", "message", "users", "Admin", "telegram", "bot", "static"]


@pytest.mark.parametrize("label", INVALID_LABELS)
def test_renaming_to_a_label_that_is_no_topic_name_is_400_naming_label(alice_linked, label):
    mine = destination(alice_linked, "me")

    response = patch(alice_linked, mine["id"], label=label)

    assert response.status_code == 400
    assert list(response.json()) == ["label"]
    assert destination(alice_linked, "me") == mine


@pytest.mark.parametrize("label", RESERVED_LABELS)
def test_renaming_to_a_reserved_name_is_400_naming_label(alice_linked, label):
    mine = destination(alice_linked, "me")

    response = patch(alice_linked, mine["id"], label=label)

    assert response.status_code == 400
    assert list(response.json()) == ["label"]
    assert destination(alice_linked, "me") == mine


@pytest.mark.parametrize("label", [*INVALID_LABELS[1:], *RESERVED_LABELS])
def test_a_link_code_for_an_invalid_or_reserved_label_is_400_naming_label(alice_linked, label):
    response = alice_linked.post(DESTINATIONS_URL, {"label": label}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["label"]


@pytest.mark.parametrize("taken", ["me", "ME", "Me"])
def test_a_label_another_destination_has_in_any_case_is_taken(tg, alice_linked, team, taken):
    _, group = team

    assert_label_taken(patch(alice_linked, group["id"], label=taken))
    assert_label_taken(alice_linked.post(DESTINATIONS_URL, {"label": taken}, format="json"))
    assert destination(alice_linked, "team") == group


def test_a_destination_may_change_its_own_labels_letter_case(tg, alice_linked, team):
    _, group = team

    response = patch(alice_linked, group["id"], label="Team")

    assert response.status_code == 200
    assert response.json()["label"] == "Team"
    assert destination(alice_linked, "Team")["id"] == group["id"]


def test_a_valid_label_renames_and_to_follows_the_new_name(tg, alice_linked, team):
    group_id, group = team

    response = patch(alice_linked, group["id"], label="Ops_Alerts-2")

    assert response.status_code == 200
    assert response.json() == {**group, "label": "Ops_Alerts-2"}
    assert_no_such_destination(send(alice_linked, "old name", to="team"))
    assert send(alice_linked, "new name", to="ops_alerts-2").status_code == 202
    assert relayed(tg, group_id) == [delivered_text("Alice", "new name")]


def test_the_same_label_in_two_accounts_is_fine(tg, alice_linked, bob_linked):
    link_group(tg, alice_linked, "Alerts", "alerts")
    _, bobs = link_group(tg, bob_linked, "Bob's alerts", "alerts")

    assert bobs["label"] == "alerts"


# -- settings ------------------------------------------------------------------------


def test_patch_changes_only_the_settings_given(tg, alice_linked, team):
    _, group = team

    response = patch(alice_linked, group["id"], header=False, silent=True, bundle=True)

    assert response.status_code == 200
    assert response.json() == {**group, "header": False, "silent": True, "bundle": True}
    assert alice_linked.get(destination_url(group["id"])).json() == response.json()
    # Another PATCH leaves them as they are.
    assert patch(alice_linked, group["id"], label="crew").json() == {**response.json(), "label": "crew"}


@pytest.mark.parametrize("field", ["header", "silent", "bundle", "is_default"])
def test_a_setting_that_is_not_a_boolean_is_400_naming_it(alice_linked, field):
    mine = destination(alice_linked, "me")

    response = patch(alice_linked, mine["id"], **{field: "sometimes"})

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_making_a_destination_the_default_moves_the_default(tg, alice_linked, team):
    group_id, group = team

    response = patch(alice_linked, group["id"], is_default=True)

    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert defaults(alice_linked) == ["team"]
    # The default is listed first.
    assert [each["label"] for each in listed(alice_linked)] == ["team", "me"]
    body = send(alice_linked, "to the default").json()
    assert body["destination"] == group["id"]
    assert relayed(tg, group_id) == [delivered_text("Alice", "to the default")]
    assert tg.sent(chat_id=ALICE_CHAT) == []

    assert patch(alice_linked, destination(alice_linked, "me")["id"], is_default=True).status_code == 200
    assert defaults(alice_linked) == ["me"]


def test_making_the_default_the_default_again_changes_nothing(tg, alice_linked, team):
    mine = destination(alice_linked, "me")

    response = patch(alice_linked, mine["id"], is_default=True)

    assert response.status_code == 200
    assert defaults(alice_linked) == ["me"]


def test_a_default_unset_leaves_no_default_and_a_message_without_to_is_409(tg, alice_linked, team):
    mine = destination(alice_linked, "me")

    assert patch(alice_linked, mine["id"], is_default=False).json()["is_default"] is False

    assert defaults(alice_linked) == []
    response = send(alice_linked, "where to?")
    assert response.status_code == 409
    assert response.json()["code"] == "chat_not_linked"
    assert send(alice_linked, "named", to="me").status_code == 202


def test_header_off_applies_to_later_messages_while_queued_ones_keep_theirs(tg, one_second_apart, alice_linked):
    mine = destination(alice_linked, "me")
    post_text(alice_linked, "first")
    queued = post_text(alice_linked, "queued before")
    assert get_message(alice_linked, queued["id"])["status"] == "queued"

    assert patch(alice_linked, mine["id"], header=False).status_code == 200
    post_text(alice_linked, "after")
    make_due()
    run_sweep()
    make_due()
    run_sweep()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "first"),
        delivered_text("Alice", "queued before"),
        "after",
    ]

    assert patch(alice_linked, mine["id"], header=True).status_code == 200
    post_text(alice_linked, "header again")
    make_due()
    run_sweep()
    assert texts(tg.sent(chat_id=ALICE_CHAT))[-1] == delivered_text("Alice", "header again")


def test_header_off_in_a_group_sends_just_the_text(tg, alice_linked, team):
    group_id, group = team
    patch(alice_linked, group["id"], header=False)

    assert send(alice_linked, "plain", to="team").status_code == 202

    assert relayed(tg, group_id) == ["plain"]


def test_silent_sends_with_disable_notification_and_queued_messages_keep_their_sound(
    tg, one_second_apart, alice_linked
):
    mine = destination(alice_linked, "me")
    post_text(alice_linked, "rings")
    post_text(alice_linked, "queued, rings too")

    assert patch(alice_linked, mine["id"], silent=True).status_code == 200
    post_text(alice_linked, "quiet")
    make_due()
    run_sweep()
    make_due()
    run_sweep()

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent) == [delivered_text("Alice", text) for text in ["rings", "queued, rings too", "quiet"]]
    assert [record.get("disable_notification", False) for record in sent] == [False, False, True]


# -- removing ------------------------------------------------------------------------


def test_delete_fails_what_is_queued_tells_the_chat_and_to_stops_naming_it(tg, one_second_apart, alice_linked, team):
    group_id, group = team
    sent = send(alice_linked, "delivered", to="team").json()
    queued = send(alice_linked, "still queued", to="team").json()
    assert get_message(alice_linked, queued["id"])["status"] == "queued"

    response = alice_linked.delete(destination_url(group["id"]))

    assert response.status_code == 204
    failed = get_message(alice_linked, queued["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "Not delivered: the chat was unlinked."
    assert get_message(alice_linked, sent["id"])["status"] == "sent"
    # The bot says so in the group, and the queued message never arrives there.
    assert texts(tg.sent(chat_id=group_id))[-1] == bot_text("", "unlinked", username="alice")
    make_due()
    run_sweep()
    assert relayed(tg, group_id) == [delivered_text("Alice", "delivered"), bot_text("", "unlinked", username="alice")]
    for to in ["team", group["id"]]:
        assert_no_such_destination(send(alice_linked, "gone", to=to))
    assert alice_linked.get(destination_url(group["id"])).status_code == 404
    assert [each["label"] for each in listed(alice_linked)] == ["me"]
    assert alice_linked.delete(destination_url(group["id"])).status_code == 404


def test_deleting_the_default_leaves_no_default_and_a_message_without_to_is_409(tg, alice_linked, team):
    mine = destination(alice_linked, "me")

    assert alice_linked.delete(destination_url(mine["id"])).status_code == 204

    assert defaults(alice_linked) == []
    response = send(alice_linked, "no default")
    assert response.status_code == 409
    assert response.json()["code"] == "chat_not_linked"
    assert send(alice_linked, "named", to="team").status_code == 202
    # The private chat was told, in its own language.
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [bot_text("ru", "unlinked", username="alice")]


# -- linking a new destination -------------------------------------------------------


def test_a_link_code_comes_with_a_private_link_a_group_link_and_a_start_command(tg, alice_api):
    body = new_code(alice_api, "ci")

    assert set(body) == {"code", "label", "expires_at", "private_link", "group_link", "start_command"}
    code = body["code"]
    assert body["label"] == "ci"
    assert body["private_link"] == f"https://t.me/{BOT_USERNAME}?start={code}"
    assert body["group_link"] == f"https://t.me/{BOT_USERNAME}?startgroup={code}"
    assert body["start_command"] == f"/start@{BOT_USERNAME} {code}"


def test_a_link_code_without_a_label_names_the_group_after_its_title(tg, alice_linked):
    chat_id = tg.create_group("Night Shift!", members={7001: "creator"})
    tg.add_bot_to_group(chat_id, by=7001, start=new_code(alice_linked)["code"])
    poll_bot()

    assert destination(alice_linked, "night-shift")["chat_id"] == chat_id


def test_the_first_destination_becomes_the_default(tg, alice_api):
    chat_id, group = link_group(tg, alice_api, "Only", "only")

    assert group["is_default"] is True
    assert send(alice_api, "hello").json()["destination"] == group["id"]
    assert relayed(tg, chat_id) == [delivered_text("Alice", "hello")]


# -- sending with `to` ---------------------------------------------------------------


def test_to_names_a_destination_by_id_or_by_label_in_any_case(tg, alice_linked, team):
    group_id, group = team
    mine = destination(alice_linked, "me")

    for to, text in [(group["id"], "by id"), ("team", "by label"), ("TEAM", "upper"), ("Team", "mixed")]:
        response = send(alice_linked, text, to=to)
        assert response.status_code == 202, response.content
        assert response.json()["destination"] == group["id"]
    response = send(alice_linked, "private", to="ME")
    assert response.json()["destination"] == mine["id"]

    assert relayed(tg, group_id) == [delivered_text("Alice", text) for text in ["by id", "by label", "upper", "mixed"]]
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "private")]


def test_without_to_a_message_goes_to_the_default(tg, alice_linked, team):
    group_id, _ = team
    mine = destination(alice_linked, "me")

    response = send(alice_linked, "default")

    assert response.status_code == 202
    assert set(response.json()) == {"id", "destination", "text", "created_at", "status"}
    assert response.json()["destination"] == mine["id"]
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "default")]
    assert relayed(tg, group_id) == []


@pytest.mark.parametrize("to", ["nobody", 999_999_999, "999999999"])
def test_to_naming_no_destination_is_not_found(alice_linked, to):
    assert_no_such_destination(send(alice_linked, "lost", to=to))
    assert get_message_count(alice_linked) == 0


@pytest.mark.parametrize("to", [True, 0, -3, 3.5, ["me"], {"label": "me"}, "x" * 65, ""])
def test_to_of_the_wrong_shape_is_400_naming_to(alice_linked, to):
    response = send(alice_linked, "odd", to=to)

    assert response.status_code == 400
    assert list(response.json()) == ["to"]


def test_the_message_list_filters_by_destination_id_or_label(tg, alice_linked, team):
    _, group = team
    mine = destination(alice_linked, "me")
    to_me = send(alice_linked, "to me").json()
    to_team = [send(alice_linked, f"to team {number}", to="team").json() for number in range(2)]

    by_id = alice_linked.get(MESSAGES_URL, {"destination": group["id"]}).json()["results"]
    by_label = alice_linked.get(MESSAGES_URL, {"destination": "TEAM"}).json()["results"]
    mine_only = alice_linked.get(MESSAGES_URL, {"destination": "me"}).json()["results"]
    everything = alice_linked.get(MESSAGES_URL).json()["results"]

    assert [each["id"] for each in by_id] == [to_team[1]["id"], to_team[0]["id"]]
    assert by_label == by_id
    assert [each["id"] for each in mine_only] == [to_me["id"]]
    assert {each["id"]: each["destination"] for each in everything} == {
        to_me["id"]: mine["id"],
        to_team[0]["id"]: group["id"],
        to_team[1]["id"]: group["id"],
    }
    assert_no_such_destination(alice_linked.get(MESSAGES_URL, {"destination": "nobody"}))


def test_the_message_list_does_not_filter_by_another_accounts_destination(tg, alice_linked, bob_linked):
    send(bob_linked, "bob's")
    bobs = destination(bob_linked, "me")

    assert_no_such_destination(alice_linked.get(MESSAGES_URL, {"destination": bobs["id"]}))


# -- the original routes and the private chat's link --------------------------------


def test_the_original_route_sends_to_the_private_chat_and_lists_every_message(tg, alice_linked, team):
    group_id, _ = team
    send(alice_linked, "to team", to="team")

    response = alice_linked.post("/message/sent", {"content": "original"}, format="json")

    assert response.status_code == 202
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "original")]
    listed_back = streamed_json(alice_linked.get("/message/sent"))
    assert [each["content"] for each in listed_back] == ["original", "to team"]
    assert relayed(tg, group_id) == [delivered_text("Alice", "to team")]


def test_the_telegram_link_routes_see_and_unlink_only_the_private_chat(tg, alice_linked, team):
    shown = alice_linked.get(LINK_URL).json()
    assert shown["linked"] is True
    assert shown["chat"] is not None

    assert alice_linked.delete(LINK_URL).status_code == 204

    assert [each["label"] for each in listed(alice_linked)] == ["team"]
    assert alice_linked.get(LINK_URL).json() == {"linked": False, "chat": None}
    assert alice_linked.delete(LINK_URL).status_code == 404


def test_a_telegram_link_code_links_a_private_chat_as_me_besides_the_groups(tg, alice_api):
    link_group(tg, alice_api, "Team", "team")
    code = alice_api.post(LINK_URL).json()["code"]

    tg.push_update(text_update(ALICE_CHAT, f"/start {code}"))
    poll_bot()

    assert alice_api.get(LINK_URL).json()["linked"] is True
    mine = destination(alice_api, "me")
    assert (mine["kind"], mine["chat_id"], mine["is_default"]) == ("private", ALICE_CHAT, False)
    assert send(alice_api, "to me", to="me").status_code == 202
    assert texts(tg.sent(chat_id=ALICE_CHAT))[-1] == delivered_text("Alice", "to me")


# -- two requests moving the default at once ------------------------------------------

ROUNDS = 30


def test_two_requests_moving_the_default_at_once_always_leave_exactly_one(tg, alice, alice_linked):
    link_group(tg, alice_linked, "Team", "team")
    ids = [each["id"] for each in listed(alice_linked)]
    start = threading.Barrier(3)
    done = threading.Event()
    statuses: list[int] = []
    seen_defaults: Counter = Counter()
    errors: list[BaseException] = []

    def client() -> APIClient:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=alice)[1]}")
        return api

    def mover(destination_id: int) -> None:
        try:
            api = client()
            start.wait()
            for _ in range(ROUNDS):
                statuses.append(patch(api, destination_id, is_default=True).status_code)
        except BaseException as error:  # noqa: BLE001 (reported to the test below)
            errors.append(error)
        finally:
            connection.close()

    def watcher() -> None:
        # Whatever moment a client looks at, it sees exactly one default.
        try:
            api = client()
            start.wait()
            while not done.is_set():
                response = api.get(DESTINATIONS_URL)
                seen_defaults[sum(each["is_default"] for each in response.json())] += 1
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    movers = [threading.Thread(target=mover, args=(destination_id,)) for destination_id in ids]
    looker = threading.Thread(target=watcher)
    for thread in [*movers, looker]:
        thread.start()
    for thread in movers:
        thread.join()
    done.set()
    looker.join()

    assert errors == []
    assert Counter(statuses) == {200: 2 * ROUNDS}
    assert set(seen_defaults) == {1}
    assert len(defaults(alice_linked)) == 1
    assert Destination.objects.filter(user=alice, is_default=True).count() == 1
