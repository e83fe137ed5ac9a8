"""collab: real-time server for online teaching-research.

The platform package: settings, accounts and policy, the real-time core (`collab.realtime`), storage
(`collab.store`), studios and their documents. It never imports `sessions` (live activities); the
composition root (`server`) installs both.
"""

__version__ = "0.1.0"
