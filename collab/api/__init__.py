"""JSON API for everything that is not live. Every route asks `collab.policy` before it acts."""
