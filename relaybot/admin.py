from django.contrib import admin

from relaybot.models import Chat, LinkCode


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ("chat_id", "user", "username", "linked_at", "unreachable_reason")
    search_fields = ("user__username", "username", "first_name", "=chat_id")
    list_select_related = ("user",)
    fields = (
        "user",
        "chat_id",
        "username",
        "first_name",
        "language_code",
        "linked_at",
        "unreachable_reason",
        "lease_token",
        "lease_expires_at",
    )
    # Linking goes through the bot, and the lease belongs to the delivery
    # workers; clearing unreachable_reason lets the account send again.
    readonly_fields = ("user", "chat_id", "linked_at", "lease_token", "lease_expires_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LinkCode)
class LinkCodeAdmin(admin.ModelAdmin):
    """Codes issued, for looking into linking trouble; the HMAC itself is never shown."""

    list_display = ("id", "kind", "user", "chat_id", "created_at", "expires_at", "used_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "=chat_id", "chat_username")
    list_select_related = ("user",)
    exclude = ("code_hash",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
