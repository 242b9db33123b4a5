"""`tgrelay`, the command-line client, installed with pip and run against the real processes.

The command runs as a person's shell would run it, with its configuration in
the environment, a config file or flags; the test reads what reached the
simulated Telegram and what the API says of each message.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_relay import CliRelay, Person
from tests.processes import wait_until


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRelay]:
    running = CliRelay(tmp_path_factory.mktemp("cli"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def person(stack: CliRelay) -> Person:
    return stack.person("carol")


@pytest.fixture(scope="module")
def team(stack: CliRelay, person: Person) -> int:
    """The person's second destination: a group labelled `team`."""
    return stack.group(person, "team")


def sent_id(done) -> int:
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_a_text_arrives_in_the_default_destination_and_its_id_is_printed(stack: CliRelay, person: Person) -> None:
    since = len(stack.telegram.sent(person.chat_id))

    message_id = sent_id(stack.run("send", "Backup done: 12 GB in 4 min", env=stack.configured(person)))

    [arrived] = stack.delivered(person, message_id, person.chat_id, since)
    assert arrived["text"] == person.header + "Backup done: 12 GB in 4 min"
    assert "disable_notification" not in arrived
    assert stack.message(person, message_id)["text"] == "Backup done: 12 GB in 4 min"


def test_a_long_output_from_standard_input_arrives_whole_in_parts(stack: CliRelay, person: Person) -> None:
    output = "".join(f"step {number:03}: compiled module_{number} with no warnings at all\n" for number in range(300))
    assert len(output) > 3 * 4096
    since = len(stack.telegram.sent(person.chat_id))

    message_id = sent_id(stack.run("send", "-", env=stack.configured(person), input=output))

    parts = stack.delivered(person, message_id, person.chat_id, since)
    assert len(parts) >= 4
    assert all(len(part["text"]) <= 4096 for part in parts)
    joined = "".join(part["text"] for part in parts)
    assert joined.removeprefix(person.header).rstrip("\n") == output.rstrip("\n")
    assert joined.startswith(person.header)


def test_to_sends_to_another_destination_by_label(stack: CliRelay, person: Person, team: int) -> None:
    in_private = len(stack.telegram.sent(person.chat_id))
    since = len(stack.telegram.sent(team))

    message_id = sent_id(stack.run("send", "--to", "team", "Deployed v2.3 to production", env=stack.configured(person)))

    [arrived] = stack.delivered(person, message_id, team, since)
    assert arrived["text"] == person.header + "Deployed v2.3 to production"
    assert len(stack.telegram.sent(person.chat_id)) == in_private


def test_a_title_and_markdown_arrive_as_telegram_entities(stack: CliRelay, person: Person) -> None:
    since = len(stack.telegram.sent(person.chat_id))

    done = stack.run("send", "--title", "Backup", "--markdown", "**failed** on `web-1`", env=stack.configured(person))

    [arrived] = stack.delivered(person, sent_id(done), person.chat_id, since)
    text = arrived["text"]
    assert text == person.header + "Backup\nfailed on web-1"
    assert {"type": "bold", "offset": utf16(person.header), "length": 6} in arrived["entities"]
    assert {"type": "bold", "offset": utf16(text[: text.index("failed")]), "length": 6} in arrived["entities"]
    assert {"type": "code", "offset": utf16(text[: text.index("web-1")]), "length": 5} in arrived["entities"]
    assert arrived["entity_problems"] == []


def test_html_arrives_as_telegram_entities(stack: CliRelay, person: Person) -> None:
    since = len(stack.telegram.sent(person.chat_id))

    done = stack.run("send", "--html", "<b>Disk</b> at <i>91%</i>", env=stack.configured(person))

    [arrived] = stack.delivered(person, sent_id(done), person.chat_id, since)
    text = arrived["text"]
    assert text == person.header + "Disk at 91%"
    assert {"type": "bold", "offset": utf16(person.header), "length": 4} in arrived["entities"]
    assert {"type": "italic", "offset": utf16(text[: text.index("91%")]), "length": 3} in arrived["entities"]


def test_silent_arrives_without_a_notification(stack: CliRelay, person: Person) -> None:
    since = len(stack.telegram.sent(person.chat_id))

    message_id = sent_id(stack.run("send", "--silent", "Nightly report ready", env=stack.configured(person)))

    [arrived] = stack.delivered(person, message_id, person.chat_id, since)
    assert arrived["text"] == person.header + "Nightly report ready"
    assert arrived["disable_notification"] is True


def test_a_file_arrives_as_a_document_with_its_caption(
    stack: CliRelay, person: Person, team: int, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n")
    since = len(stack.telegram.sent(person.chat_id))

    message_id = sent_id(stack.run("send", "--file", str(report), "Today's report", env=stack.configured(person)))

    # The text, then the file.
    text, document = stack.delivered(person, message_id, person.chat_id, since)
    assert text["text"] == person.header + "Today's report"
    assert (document["method"], document["file_name"]) == ("sendDocument", "report.pdf")
    assert document["sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()

    # To a destination named with --to, the same way.
    since = len(stack.telegram.sent(team))
    message_id = sent_id(stack.run("send", "--to", "team", "--file", str(report), env=stack.configured(person)))
    *_, document = stack.delivered(person, message_id, team, since)
    assert (document["method"], document["file_name"]) == ("sendDocument", "report.pdf")


def test_a_config_file_gives_way_to_the_environment_and_both_to_flags(
    stack: CliRelay, person: Person, tmp_path: Path
) -> None:
    config = tmp_path / "xdg" / "tgrelay" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'url = "{stack.url}"\ntoken = "{person.token}"\n')
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}

    # The file alone is enough.
    sent = [sent_id(stack.run("send", "from the config file", env=stack.env(**xdg)))]

    # A token in the environment wins over the file's: this one is refused.
    refused = stack.run("send", "never sent", env=stack.env(TGRELAY_TOKEN="0" * 64, **xdg))
    assert refused.returncode == 4
    assert "Invalid token" in refused.stderr

    # A flag wins over both.
    flagged = stack.run("send", "--token", person.token, "from a flag", env=stack.env(TGRELAY_TOKEN="0" * 64, **xdg))
    sent.append(sent_id(flagged))

    # Each setting on its own: the address from the environment, the token from the file.
    config.write_text(f'token = "{person.token}"\n')
    sent.append(sent_id(stack.run("send", "address from the environment", env=stack.env(TGRELAY_URL=stack.url, **xdg))))

    # Without XDG_CONFIG_HOME, the file is ~/.config/tgrelay/config.toml.
    home_config = Path(stack.env()["HOME"]) / ".config" / "tgrelay" / "config.toml"
    home_config.parent.mkdir(parents=True, exist_ok=True)
    home_config.write_text(f'url = "{stack.url}"\ntoken = "{person.token}"\n')
    try:
        sent.append(sent_id(stack.run("send", "from ~/.config", env=stack.env())))
    finally:
        home_config.unlink()

    stack.wait_sent(person, *sent)
    texts = [stack.message(person, message_id)["text"] for message_id in sent]
    assert texts == ["from the config file", "from a flag", "address from the environment", "from ~/.config"]
    latest = stack.api.get("/api/v1/messages/", headers=person.auth).json()["results"]
    assert "never sent" not in [message["text"] for message in latest]


def test_a_missing_token_is_exit_3_in_words(stack: CliRelay) -> None:
    done = stack.run("send", "hello", env=stack.env(TGRELAY_URL=stack.url))

    assert done.returncode == 3
    assert "No API token" in done.stderr
    for way in ("TGRELAY_TOKEN", "config.toml", "--token"):
        assert way in done.stderr
    assert done.stdout == ""


def test_usage_errors_are_exit_3(stack: CliRelay, person: Person) -> None:
    nothing = stack.run("send", env=stack.configured(person))
    assert nothing.returncode == 3
    assert "nothing to send" in nothing.stderr

    empty_input = stack.run("send", "-", env=stack.configured(person), input="  \n")
    assert empty_input.returncode == 3
    assert "standard input was empty" in empty_input.stderr

    bad_duration = stack.run("ask", "Ship?", "--button", "yes", "--timeout", "soon", env=stack.configured(person))
    assert bad_duration.returncode == 3
    assert "'soon' is not a duration" in bad_duration.stderr

    both = stack.run("send", "--markdown", "--html", "x", env=stack.configured(person))
    assert both.returncode == 3
    assert "not allowed with argument" in both.stderr


def test_a_refused_send_is_exit_4_with_the_servers_detail(stack: CliRelay, person: Person, tmp_path: Path) -> None:
    done = stack.run("send", "--to", "nowhere", "hello", env=stack.configured(person))

    assert done.returncode == 4
    assert "None of your destinations is called 'nowhere'." in done.stderr
    assert done.stdout == ""

    # A file to an unknown destination: ntfy publishing's own words.
    attachment = tmp_path / "notes.txt"
    attachment.write_text("notes")
    done = stack.run("send", "--to", "nowhere", "--file", str(attachment), env=stack.configured(person))
    assert done.returncode == 4
    assert "none of your destinations is labelled 'nowhere'" in done.stderr

    # A server that is not there.
    done = stack.run("send", "hello", env=stack.configured(person, TGRELAY_URL="http://127.0.0.1:9"))
    assert done.returncode == 4
    assert "Cannot reach http://127.0.0.1:9" in done.stderr


def test_help_for_the_command_and_each_subcommand(stack: CliRelay) -> None:
    main = stack.run("--help", env=stack.env())
    assert main.returncode == 0
    assert "send" in main.stdout and "ask" in main.stdout and "TGRELAY_TOKEN" in main.stdout

    send = stack.run("send", "--help", env=stack.env())
    assert send.returncode == 0
    for option in ("--to", "--title", "--markdown", "--html", "--silent", "--file", "standard input"):
        assert option in send.stdout

    ask = stack.run("ask", "--help", env=stack.env())
    assert ask.returncode == 0
    for option in ("--button", "--timeout", "ANSWER:LABEL", "Exits 0 when the first button"):
        assert option in ask.stdout


def test_the_python_client_sends_reads_and_raises_the_servers_detail(stack: CliRelay, person: Person) -> None:
    import tgrelay

    since = len(stack.telegram.sent(person.chat_id))
    with tgrelay.Client(stack.url + "/api/v1/", person.token) as relay:
        message = relay.send("From Python", title="Script", silent=True)
        assert (message.text, message.title, message.status) == ("From Python", "Script", "queued")

        wait_until(lambda: relay.message(message.id).status == "sent", what="the message to be sent")
        read = relay.message(message.id)
        assert (read.id, read.text, read.title, read.answer) == (message.id, "From Python", "Script", None)
        assert read.sent_at is not None and read.created_at is not None and read.sent_at >= read.created_at

        with pytest.raises(tgrelay.ApiError) as refused:
            relay.send("x", to="nowhere")
        assert refused.value.status_code == 404
        assert refused.value.detail == "None of your destinations is called 'nowhere'."

        with pytest.raises(tgrelay.ApiError) as invalid:
            relay.send("   ")
        assert invalid.value.status_code == 400
        assert invalid.value.detail == "text: The message is empty."

    [arrived] = stack.delivered(person, message.id, person.chat_id, since)
    assert arrived["text"] == person.header + "Script\nFrom Python"
    assert arrived["disable_notification"] is True

    with pytest.raises(tgrelay.ApiError) as unauthorized:
        tgrelay.Client(stack.url, "0" * 64).message(message.id)
    assert unauthorized.value.status_code == 401
