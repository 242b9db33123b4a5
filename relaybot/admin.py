from django.contrib import admin

from relaybot.models import LinkCode


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
