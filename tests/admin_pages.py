"""The admin pages, sorted by whether they hold a clinic's data: shared by the admin scoping tests and the
permission matrix, which checks every admin route has a row."""

# Admin pages of no clinic's data: auth groups, sign-in records and tokens, and the model versions. Staff reach
# them only through a model permission a superuser grants.
NOT_CLINIC_DATA = {
    "auth.group",
    "knox.authtoken",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "lesions.modelversion",
}
CLINIC_PAGES = (
    "accounts.clinic",
    "accounts.membership",
    "accounts.user",
    "lesions.patient",
    "lesions.lesion",
    "lesions.lesionimage",
    "lesions.prediction",
    "lesions.confirmeddiagnosis",
    "sharing.share",
    "sharing.shareopening",
    "audit.auditevent",
)
