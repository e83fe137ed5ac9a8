"""Signed, durable webhooks: what happened, told to the systems that record it (docs/integration.md).

    outbox.py     an event, written in the transaction of the change it reports
    deliverer.py  the node holding the outbox lease sends due deliveries: signed, retried, logged
    signing.py    Standard Webhooks signatures, with both secrets during a rotation
    addresses.py  which receiver addresses a node will connect to (no probing of its own network)
    endpoints.py  what admins configure: receivers, their event types, secrets, the delivery log, replay
    api.py        the admin routes; part.py installs it all on a node
"""
