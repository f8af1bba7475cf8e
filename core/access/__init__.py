"""Who is asking: users, project membership and roles, API tokens."""
