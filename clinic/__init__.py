"""A clinic admin's pages: the clinic's staff and its audit trail. They compose accounts' services with the audit
trail and the invitation email, which accounts itself may not import."""
