from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class RelayUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Relay", {"fields": ("name",)}),)
    list_display = ("username", "name", "is_active", "date_joined")
