"""collab: real-time server for online teaching-research.

The platform package: app factory, settings, CLI, accounts and policy, the real-time core
(`collab.realtime`), storage (`collab.store`). Live activities live in the `sessions` package.
"""

__version__ = "0.1.0"
