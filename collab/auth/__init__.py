"""Accounts: password hashing, signed tokens (ours and an external identity provider's), the actor."""
