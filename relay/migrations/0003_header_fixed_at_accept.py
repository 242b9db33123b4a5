from django.db import migrations, models

# The header as relay/splitting.py wrote it when this migration was made;
# copied here so that changing the template later does not change history.
HEADER_TEMPLATE = "{name}, я получил от тебя сообщение:\n"


def fill_headers(apps, schema_editor):
    # Messages accepted before the header was stored get the one their
    # account's name makes now: what delivery would have sent them anyway.
    Message = apps.get_model("relay", "Message")
    User = apps.get_model("accounts", "User")
    for user_id, name in User.objects.filter(relayed_messages__isnull=False).distinct().values_list("pk", "name"):
        Message.objects.filter(user_id=user_id, header="").update(header=HEADER_TEMPLATE.format(name=name))


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0002_idempotency_key"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="header",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(fill_headers, migrations.RunPython.noop),
    ]
