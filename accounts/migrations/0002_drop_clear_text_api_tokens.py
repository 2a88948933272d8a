from django.db import migrations


class Migration(migrations.Migration):
    """API tokens moved from DRF's authtoken (kept in clear) to django-rest-knox (kept as digests, expiring): the
    old table, whose rows would still be readable by anyone with the database, goes. Its users sign in again."""

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]
