"""Identity and permissions: FAB users/roles, bearer tokens, the request's actor."""
