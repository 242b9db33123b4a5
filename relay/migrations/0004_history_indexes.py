from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0003_header_fixed_at_accept"),
        ("telegram", "0003_chat_next_turn"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The wider (user, created_at, id) index is made before the one it replaces is dropped:
    # the quota's count always has one to use.
    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["user", "created_at", "id"], name="relay_messa_user_id_add01e_idx"),
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="relay_messa_user_id_52e460_idx",
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["user", "status", "-id"], name="relay_messa_user_id_9f4af7_idx"),
        ),
    ]
