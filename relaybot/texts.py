"""What the bot says, in Russian (the default) and English."""

TEXTS = {
    "ru": {
        "linked": "Готово, {name}! Этот чат привязан к аккаунту {username}. "
        "Сообщения, отправленные через API, будут приходить сюда.",
        "code_invalid": "Этот код не подошёл: он неверный, уже использован или истёк. "
        "Получите новый код в личном кабинете или через API.",
        "verification": "Ваш код подтверждения:\n{code}\n"
        "В течение {minutes} мин. введите его в личном кабинете:\n{cabinet_url}\n"
        "или отправьте через API (POST /api/v1/telegram/verify/ или PATCH /bot/verify), "
        "и этот чат будет привязан к вашему аккаунту.",
        "stopped": "Чат отвязан от аккаунта {username}. Сообщения больше не будут приходить сюда.",
        "linked_group": "Готово! Этот чат привязан к аккаунту {username} под именем «{label}». "
        "Сообщения, отправленные через API с to={label}, будут приходить сюда.",
        "linked_topic": "Готово! Эта тема привязана к аккаунту {username} под именем «{label}». "
        "Сообщения, отправленные через API с to={label}, будут приходить в эту тему.",
        "stopped_group": "Отвязано от аккаунтов: {usernames}. Сообщения больше не будут приходить сюда.",
        "stop_not_admin": "Отвязать чат могут только администраторы группы.",
        "group_help": "Я пересылаю сюда сообщения, отправленные через API tg-relay.\n\n"
        "Чтобы привязать эту группу или тему, пришлите здесь /start@{bot} <код привязки> "
        "(код — в личном кабинете, на странице «Адресаты»).\n"
        "/stop@{bot} — отвязать (только администраторы)",
        "not_linked": "Этот чат не привязан ни к одному аккаунту.",
        "answer_recorded": "✓ Ответ принят: {value}",
        "answer_already": "На этот вопрос уже ответили: {value}",
        "answer_expired": "Поздно: время ответа на этот вопрос истекло.",
        "answer_gone": "Эта кнопка больше не работает.",
        "unlinked": "Чат отвязан от аккаунта {username} в личном кабинете или через API. "
        "Сообщения больше не будут приходить сюда.",
        "account_deleted": "Аккаунт {username} удалён, и этот чат больше к нему не привязан. "
        "Сообщения больше не будут приходить сюда.",
        "password_reset": "Кто-то попросил сбросить пароль аккаунта {username}. "
        "Чтобы задать новый пароль, откройте ссылку в течение {minutes} мин. (она работает один раз):\n{link}\n"
        "Если это были не вы, просто не открывайте её: пароль останется прежним.",
        "help": "Я пересылаю сюда сообщения, которые вы отправляете через API tg-relay.\n\n"
        "Как привязать чат:\n"
        "1. Откройте ссылку привязки из личного кабинета (или API: POST /api/v1/telegram/link/), или\n"
        "2. Пришлите мне код привязки, или\n"
        "3. Напишите мне что угодно, получите код подтверждения и введите его в личном кабинете "
        "или отправьте через API.\n\n"
        "/stop — отвязать чат\n/help — эта справка",
    },
    "en": {
        "linked": "Done, {name}! This chat is linked to the account {username}. "
        "Messages you send through the API will arrive here.",
        "code_invalid": "That code did not work: it is wrong, already used or expired. "
        "Get a new one in your cabinet or from the API.",
        "verification": "Your verification code:\n{code}\n"
        "Within {minutes} min, enter it in your cabinet:\n{cabinet_url}\n"
        "or submit it through the API (POST /api/v1/telegram/verify/ or PATCH /bot/verify), "
        "and this chat will be linked to your account.",
        "stopped": "This chat is no longer linked to {username}. Messages will not arrive here any more.",
        "linked_group": "Done! This chat is linked to the account {username} as \u201c{label}\u201d. "
        "Messages sent through the API with to={label} will arrive here.",
        "linked_topic": "Done! This topic is linked to the account {username} as \u201c{label}\u201d. "
        "Messages sent through the API with to={label} will arrive in this topic.",
        "stopped_group": "Unlinked from: {usernames}. Messages will not arrive here any more.",
        "stop_not_admin": "Only the group's administrators may unlink it.",
        "group_help": "I forward here messages sent through the tg-relay API.\n\n"
        "To link this group or topic, send /start@{bot} <link code> here "
        "(the code is in your cabinet, on the Destinations page).\n"
        "/stop@{bot} — unlink (administrators only)",
        "not_linked": "This chat is not linked to any account.",
        "answer_recorded": "✓ Answer recorded: {value}",
        "answer_already": "This question was already answered: {value}",
        "answer_expired": "Too late: this question is no longer open.",
        "answer_gone": "This button no longer works.",
        "unlinked": "This chat was unlinked from {username} in the cabinet or through the API. "
        "Messages will not arrive here any more.",
        "account_deleted": "The account {username} was deleted, and this chat is no longer linked to it. "
        "Messages will not arrive here any more.",
        "password_reset": "Someone asked to reset the password of {username}. "
        "To choose a new one, open this link within {minutes} min (it works once):\n{link}\n"
        "If it was not you, do not open it: the password stays as it is.",
        "help": "I forward here the messages you send through the tg-relay API.\n\n"
        "To link this chat:\n"
        "1. Open the link from your cabinet (or the API: POST /api/v1/telegram/link/), or\n"
        "2. Send me a link code, or\n"
        "3. Write me anything, get a verification code and enter it in your cabinet "
        "or submit it through the API.\n\n"
        "/stop — unlink this chat\n/help — this help",
    },
}


def text(language_code: str, key: str, **values: object) -> str:
    language = "en" if language_code.lower().startswith("en") else "ru"
    return TEXTS[language][key].format(**values)
