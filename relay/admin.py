from django.contrib import admin, messages

from relay.models import Destination, Message
from relay.services import retry_messages


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages as the delivery left them; an operator can only ask for another try."""

    list_display = ("id", "user", "status", "attempts", "created_at", "sent_at", "error")
    list_filter = ("status",)
    search_fields = ("user__username", "text")
    list_select_related = ("user",)
    ordering = ("-id",)
    actions = ("retry_now",)
    fields = (
        "user",
        "destination",
        "header",
        "text",
        "silent",
        "status",
        "created_at",
        "updated_at",
        "attempts",
        "next_attempt_at",
        "parts_sent",
        "telegram_message_ids",
        "sent_at",
        "error",
    )
    # What was sent, and how delivery went, is a record, not something to edit.
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset) -> None:
        outcome = retry_messages(message_ids=queryset.values_list("pk", flat=True))
        if outcome.retried:
            self.message_user(request, f"{outcome.retried} message(s) queued to be sent now.", messages.SUCCESS)
        if outcome.unlinked:
            self.message_user(
                request,
                f"{outcome.unlinked} message(s) cannot be retried: their chat was unlinked.",
                messages.WARNING,
            )
        if outcome.already_sent:
            self.message_user(request, f"{outcome.already_sent} message(s) were already sent; left alone.")


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("label", "user", "kind", "title", "chat_id", "thread_id", "is_default", "unreachable_reason")
    list_filter = ("kind",)
    search_fields = ("user__username", "label", "title", "username", "=chat_id")
    list_select_related = ("user",)
    fields = (
        "user",
        "label",
        "kind",
        "title",
        "chat_id",
        "thread_id",
        "username",
        "language_code",
        "is_default",
        "header",
        "silent",
        "bundle",
        "linked_at",
        "unreachable_reason",
        "lease_token",
        "lease_expires_at",
    )
    # Linking goes through the bot, and the lease belongs to the delivery
    # workers; clearing unreachable_reason lets the account send again.
    readonly_fields = ("user", "kind", "chat_id", "thread_id", "linked_at", "lease_token", "lease_expires_at")

    def has_add_permission(self, request) -> bool:
        return False
