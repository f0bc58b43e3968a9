"""Organizations, users, roles, API tokens, web sessions and logins."""
