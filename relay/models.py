from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Destination(models.Model):
    """Where an account's messages go: a Telegram chat, or one forum topic in it, and its delivery state.

    The relay owns the state delivery needs (lease, pacing, next turn,
    pause); the Telegram side tells it what happened to the chat through
    relay/destinations.py.
    """

    class Kind(models.TextChoices):
        PRIVATE = "private"
        GROUP = "group"
        SUPERGROUP = "supergroup"
        TOPIC = "topic"
        CHANNEL = "channel"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="destinations")
    # What `to` names; also an ntfy topic name (relay/labels.py).
    label = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The group's or channel's title, the topic's name, or the private chat's first name.
    title = models.CharField(max_length=255, blank=True)
    # Telegram's id of the chat: 52 bits, negative for groups and channels.
    chat_id = models.BigIntegerField()
    # The forum topic's message_thread_id; null outside a topic.
    thread_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=64, blank=True)
    # The language the bot speaks in this chat (a private chat's user's).
    language_code = models.CharField(max_length=16, blank=True)
    is_default = models.BooleanField(default=False)
    # Settings: the required header on or off, Telegram's disable_notification,
    # and sending what waits for the next turn as one Telegram message.
    header = models.BooleanField(default=True)
    silent = models.BooleanField(default=False)
    bundle = models.BooleanField(default=False)
    linked_at = models.DateTimeField(default=timezone.now)
    # Set when Telegram says the chat cannot be reached (bot blocked, kicked,
    # not allowed to post, topic closed); cleared when Telegram says otherwise.
    unreachable_reason = models.CharField(max_length=255, blank=True)
    # A delivery worker holds the destination while it sends, so it gets one
    # message at a time, in order; an expired lease is free again.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Pacing: when Telegram last accepted a message here, and until when it
    # asked us (429) to leave the chat alone.
    last_sent_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    # When a delivery task is already scheduled to look at this destination.
    next_turn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("user", Lower("label"), name="relay_destination_label_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="relay_destination_one_default"
            ),
            # A private chat is one person's: linking it to another account moves it.
            models.UniqueConstraint(
                fields=["chat_id"], condition=models.Q(kind="private"), name="relay_destination_private_chat_unique"
            ),
            models.UniqueConstraint(
                fields=["user", "chat_id"],
                condition=models.Q(thread_id__isnull=True),
                name="relay_destination_chat_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "chat_id", "thread_id"],
                condition=models.Q(thread_id__isnull=False),
                name="relay_destination_topic_unique",
            ),
        ]
        indexes = [models.Index(fields=["chat_id", "thread_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} of {self.user_id}"

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.PRIVATE:
            return f"@{self.username}" if self.username else self.title or str(self.chat_id)
        return self.title or str(self.chat_id)

    @property
    def paced_as_group(self) -> bool:
        """Telegram allows about 20 messages a minute in a group (and its topics), and paces channels alike."""
        return self.kind != self.Kind.PRIVATE


class Message(models.Model):
    """A message accepted by the API: the row is the truth about its delivery."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"
        # Withdrawn by its sender while it waited.
        CANCELLED = "cancelled"
        # Sent, then deleted from the chat at its sender's request.
        DELETED = "deleted"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="relayed_messages")
    # The destination chosen when the message was accepted; removing it
    # fails what is still queued, so a message never reaches a chat linked later.
    destination = models.ForeignKey(Destination, on_delete=models.SET_NULL, null=True, blank=True)
    # The header the account's name made when the message was accepted (empty
    # when the destination turned it off): what the chat is sent is header +
    # text, fixed then, so a later rename changes only later messages.
    header = models.TextField(blank=True)
    # Telegram's disable_notification, fixed at acceptance too.
    silent = models.BooleanField(default=False)
    text = models.TextField()
    # How `text` was written (text, markdown, html) and its title, as submitted.
    format = models.CharField(max_length=8, default="text")
    title = models.CharField(max_length=250, blank=True)
    # What the chat is shown after the header when it differs from `text`
    # (formatting rendered, title and tags added), and Telegram's entities
    # for header + that, in UTF-16 units: fixed when accepted, so splitting,
    # bundling and retries work on one representation.
    rendered = models.TextField(blank=True)
    entities = models.JSONField(default=list, blank=True)
    # Inline keyboard rows of URL buttons ([[{"text", "url"}]]), under the last part.
    buttons = models.JSONField(default=list, blank=True)
    # Not sent before this moment; it does not hold back the messages behind it.
    deliver_at = models.DateTimeField(null=True, blank=True)
    # A question: its buttons with an `answer` (rows in `buttons`) and, with
    # accept_reply, a Telegram reply to it are answers, taken until expires_at.
    accept_reply = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The first answer: {"value", "kind": "button" | "reply", "by", "at"}; later ones are refused.
    answer = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Failed attempts so far; a 429 is Telegram pacing us, not a failure.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A long text goes out in parts; these record how far delivery got, so
    # a retry resumes after the last part Telegram accepted.
    parts_sent = models.PositiveIntegerField(default=0)
    telegram_message_ids = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The client's Idempotency-Key: a retried request returns this message.
    idempotency_key = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="relay_message_idempotency_key_unique",
            ),
        ]
        indexes = [
            # The history, newest first (id order is acceptance order: relay/throttling.py), and by status.
            models.Index(fields=["user", "-id"]),
            models.Index(fields=["user", "status", "-id"]),
            # The quota's count, date ranges, and the original route's order (time, then id).
            models.Index(fields=["user", "created_at", "id"]),
            # A destination's queue, oldest first, and its history, newest first.
            models.Index(fields=["destination", "status", "id"]),
            models.Index(fields=["destination", "-id"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.status})"


class Attachment(models.Model):
    """A file sent with a message, kept in the database (which every worker reads) until it is sent."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.name} of message {self.message_id}"

    @property
    def is_photo(self) -> bool:
        """Sent with sendPhoto: an image Telegram shows as one (up to 10 MB)."""
        return self.content_type in ("image/jpeg", "image/png", "image/webp") and self.size <= 10 * 1024 * 1024


class AnswerablePart(models.Model):
    """A Telegram message that carried part of a question: a press on it or a reply to it answers the question."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="answerable_parts")
    chat_id = models.BigIntegerField()
    telegram_message_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "telegram_message_id"], name="relay_answerable_part_unique")
        ]

    def __str__(self) -> str:
        return f"part {self.telegram_message_id} in {self.chat_id} of message {self.message_id}"


class Revision(models.Model):
    """A change asked for to a sent message (new text, or deletion from the chat), delivered through its queue.

    It waits for every message of the destination accepted before it, and
    goes before those accepted after it; a Telegram call at a time, with the
    messages' retries, so `parts_done` records how far it got.
    """

    class Kind(models.TextChoices):
        EDIT = "edit"
        DELETE = "delete"

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # An edit's new text as submitted, and what the chat is shown for it, fixed
    # as a message's is (relay/content.py), with the header kept.
    text = models.TextField(blank=True)
    rendered = models.TextField(blank=True)
    entities = models.JSONField(default=list, blank=True)
    # The newest message of the destination when it was asked for: it waits for those up to this one.
    after_message_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    parts_done = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["destination", "status", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id} ({self.status})"
