from django.urls import path

from cabinet import views

app_name = "cabinet"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.log_in, name="login"),
    path("logout/", views.log_out, name="logout"),
    path("language/", views.set_language, name="set-language"),
    path("telegram/connect/", views.telegram_connect, name="telegram-connect"),
    path("telegram/verify/", views.telegram_verify, name="telegram-verify"),
    path("telegram/disconnect/", views.telegram_disconnect, name="telegram-disconnect"),
    path("telegram/disconnect/confirm/", views.telegram_disconnect_confirm, name="telegram-disconnect-confirm"),
    path("messages/", views.message_list, name="messages"),
    path("messages/send/", views.message_send, name="message-send"),
    path("messages/status/", views.message_status, name="message-status"),
    path("messages/<int:message_id>/", views.message_detail, name="message"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/revoke/", views.token_revoke, name="token-revoke"),
    path("tokens/revoke/confirm/", views.token_revoke_confirm, name="token-revoke-confirm"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.password_change, name="password-change"),
    path("profile/time-zone/", views.time_zone_change, name="time-zone"),
    path("profile/delete/", views.account_delete, name="account-delete"),
    path("profile/export/messages.json", views.export_messages, {"fmt": "json"}, name="export-json"),
    path("profile/export/messages.csv", views.export_messages, {"fmt": "csv"}, name="export-csv"),
    path("password/forgot/", views.password_forgot, name="password-forgot"),
    path("password/forgot/sent/", views.password_forgot_sent, name="password-forgot-sent"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/<str:token>/", views.password_reset_open, name="password-reset-open"),
    path("demo/chat/", views.demo_chat, name="demo-chat"),
    path("demo/say/", views.demo_say, name="demo-say"),
]
