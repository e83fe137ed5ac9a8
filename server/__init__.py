"""The composition root: what knows both the platform (`collab`) and live activities (`sessions`).

    app   one node's app: services, the parts it installs, the routes around them
    cli   the `collab` command: serve, db upgrade | current, demo
    demo  demo accounts, an activity and a studio for the embedded server
"""
