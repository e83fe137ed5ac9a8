"""Group discussion inside an activity: breakout groups with their own chat, notes and small stage, and
the report-back after (docs/groups.md)."""
