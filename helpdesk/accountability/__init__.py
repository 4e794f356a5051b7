"""Accountability for unresolved inquiries (未解决咨询处置和问题追责): the tamper-evident audit
chain, follow-up deadlines and their sweep, breaches, staff notifications and the signed webhook."""
