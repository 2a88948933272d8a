import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Invitations move here from the sharing app: the model only, its table (sharing_invitation) and index stay."""

    initial = True

    dependencies = [
        ("lesions", "0005_change_from_previous"),
        ("sharing", "0005_invitation_moves_to_portal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Invitation",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("email", models.EmailField(max_length=254)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "notice_sent_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="When the holder of an address already in use was told of the invitation.",
                                null=True,
                            ),
                        ),
                        (
                            "invited_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "patient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="invitations",
                                to="lesions.patient",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "sharing_invitation",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["invited_by", "created_at"], name="invitation_sender_recent_idx")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
