"""Live collective teaching-research activities.

Activities register their `/ws` command handlers and channel namespaces with the real-time core
through `collab.realtime.dispatch.Registry`, and their permission rules in `collab.policy`.
"""
