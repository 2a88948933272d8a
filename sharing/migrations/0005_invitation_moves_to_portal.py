from django.db import migrations


class Migration(migrations.Migration):
    """Invitations belong to the portal app now; their table stays where it is (portal 0001 takes it over)."""

    dependencies = [
        ("sharing", "0004_invitations_are_recorded"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Invitation")],
            database_operations=[],
        ),
    ]
