"""Prometheus metrics of lesson-prep documents on this node."""

from prometheus_client import Counter, Gauge

OPEN = Gauge("collab_docs_open", "Documents held in memory on this node")
SOCKETS = Gauge("collab_doc_sockets", "Open /ws/docs sockets on this node")
STORED = Counter("collab_doc_updates_stored_total", "Update rows written (one per group commit)")
MERGED = Counter("collab_doc_updates_received_total", "Updates received from this node's sockets")
COMPACTIONS = Counter("collab_doc_compactions_total", "Compactions of a document's update rows")
REFUSED = Counter("collab_doc_refused_total", "Sockets closed or edits refused", ["code"])
URL_TOKENS = Counter("collab_doc_url_tokens_total", "Document sockets opened with ?token= (deprecated: tickets)")
WITHDRAWN = Counter("collab_doc_awareness_withdrawn_total", "Awareness states withdrawn because their node stopped beating")
