"""API fuzzing: schemathesis generates requests for every operation of /api/schema/, valid ones and invalid ones,
and sends them to the WSGI application as a signed-in clinician of clinic A whose clinic has patients, lesions,
photos, predictions, shares and audit events; the clinic admin takes the operations that only an admin may use
(the audit trail, the clinic's staff, deleting a patient). No answer may be a server error.

Path ids are drawn half from the generator (any integer) and half from the records that exist, so the
operations on real objects are exercised too, not only their 404s. Integers in paths and query filters are also
drawn from the edges of what a database column holds (and far past them), and dates from the edges of the calendar
(year 1, 1899, 9999): a value accepted once must not break the answers that read it later, so the listings are
read again after the run. Run it on PostgreSQL too by setting DATABASE_URL.
"""

from collections import Counter
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup

from audit.models import AuditEvent
from lesions.models import ModelVersion
from portal.reminders import send_due_reminders
from sharing.services import share_lesion
from tests.conftest import api_client
from tests.factories import followed_lesion

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Per operation: bounded so that the whole run stays well under three minutes on two busy cores.
EXAMPLES_PER_OPERATION = 20

# Past a 64-bit column, at its edges, and negative: SQLite raises OverflowError for the first if it reaches a query.
EDGE_INTEGERS = [10**23, -(10**23), 2**63, 2**63 - 1, -(2**63), 0, -1]
EDGE_DATES = ["0001-01-01", "1899-12-31", "1900-01-01", "2999-01-01", "9999-12-31"]
EDGE_TIMES = ["00:00:00Z", "23:59:59Z", "23:59:59.999999+14:00", "00:00:00-12:00"]
schemathesis.openapi.format("date", st.one_of(st.dates().map(str), st.sampled_from(EDGE_DATES)))
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        st.builds("{}T{}".format, st.sampled_from(EDGE_DATES), st.sampled_from(EDGE_TIMES)),
    ),
)


def edge_integers_for(names: list[str]):
    """Query strings that set one of the named integer parameters to an edge value."""
    return st.builds(lambda name, value: {name: value}, st.sampled_from(names), st.sampled_from(EDGE_INTEGERS))


def existing_ids(people) -> dict[str, list[int]]:
    """The records of clinic A, by the path segment that names their kind in the API."""
    images = [image.pk for image in followed_lesion(people.lesion_a, people.clinician_a)]
    share = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    # A read through the API leaves an audit event for the audit endpoints to list.
    api_client(people.admin_a).get(f"/api/patients/{people.patient_a.pk}/")
    return {
        "patients": [people.patient_a.pk, people.patient_b.pk],
        "lesions": [people.lesion_a.pk, people.lesion_b.pk],
        "images": images,
        "models": list(ModelVersion.objects.values_list("pk", flat=True)),
        "shares": [share.pk],
        "audit": list(AuditEvent.objects.values_list("pk", flat=True)[:5]),
        "clinic": list(people.clinic_a.memberships.values_list("pk", flat=True)),
    }


def is_sign_out(operation) -> bool:
    """Signing out ends the token every later request is sent with: tests/test_tokens.py covers it. So may
    deactivating a member, once the run has made another member admin and then deactivates the admin it signs in
    as: tests/test_clinic_staff_api.py covers it."""
    return operation.path in ("/api/auth/logout/", "/api/clinic/staff/{id}/deactivate/")


def is_admin_only(operation) -> bool:
    """The audit trail, the clinic's staff and deleting a patient belong to the clinic admin: a clinician gets 403
    for all of them."""
    return operation.path.startswith(("/api/audit/", "/api/clinic/")) or operation.method.upper() == "DELETE"


@pytest.fixture
def load_schema(people):
    """The served schema, sending every request with the token of the named member of clinic A."""
    ids = existing_ids(people)

    def load(user):
        _, token = AuthToken.objects.create(user=user)
        loaded = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
        loaded.config.update(headers={"Authorization": f"Token {token}"})

        @loaded.hook
        def before_generate_path_parameters(context, strategy):
            known = ids.get(context.operation.path.split("/")[2])
            if not known:
                return strategy
            edges = st.fixed_dictionaries({"id": st.sampled_from(EDGE_INTEGERS)})
            return st.one_of(strategy, st.fixed_dictionaries({"id": st.sampled_from(known)}), edges)

        @loaded.hook
        def before_generate_query(context, strategy):
            integers = [
                parameter.name
                for parameter in context.operation.query
                if parameter.definition.get("schema", {}).get("type") == "integer"
            ]
            return st.one_of(strategy, edge_integers_for(integers)) if integers else strategy

        return loaded

    return load


@dataclass
class Fuzzed:
    operation: str
    statuses: Counter
    failure: str  # schemathesis's report of the first server error, with the request to replay it; "" if none


def fuzz(operation) -> Fuzzed:
    statuses = Counter()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=st.one_of(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))
    def call(case):
        statuses[case.call_and_validate(checks=[not_a_server_error]).status_code] += 1

    try:
        call()
    except FailureGroup as failure:
        return Fuzzed(operation.label, statuses, f"{operation.label}: {failure}")
    return Fuzzed(operation.label, statuses, "")


@pytest.mark.parametrize(("member", "admin_only"), [("clinician_a", False), ("admin_a", True)])
def test_no_generated_request_makes_the_api_fail(people, load_schema, member, admin_only):
    schema = load_schema(getattr(people, member))
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [
        operation for operation in operations if is_admin_only(operation) == admin_only and not is_sign_out(operation)
    ]
    assert len(operations) >= (3 if admin_only else 20), "the schema lost operations"

    results = [fuzz(operation) for operation in operations]

    failures = [result.failure for result in results if result.failure]
    assert not failures, "\n\n".join(failures)
    # The requests got past authentication and permission: each operation ran its own code at least once.
    stopped_at_the_door = [result.operation for result in results if set(result.statuses) <= {401, 403}]
    assert not stopped_at_the_door
    # Whatever the run stored (a photo dated 9999-12-31, say) must not break the answers that read it back.
    reader = api_client(getattr(people, member))
    lesions = reader.get("/api/lesions/")
    assert lesions.status_code == 200
    for lesion in lesions.json()["results"]:
        assert reader.get(f"/api/lesions/{lesion['id']}/timeline/").status_code == 200
    for url in ("/api/images/", "/api/patients/", "/api/shares/"):
        assert reader.get(url).status_code == 200, url
    send_due_reminders()  # raises if a stored date makes a due date it cannot compute
