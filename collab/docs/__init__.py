"""Lesson-preparation documents: Yjs documents on pycrdt, synced over `/ws/docs/{doc_id}`, stored as an
update log compacted into snapshots, with versions, comments and exports."""
