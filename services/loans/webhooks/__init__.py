"""Webhooks: events about a bank's applications pushed to the bank's endpoints.

Written to an outbox (`outbox.py`) in the transaction of the change they report, delivered
at least once by the worker, signed as Standard Webhooks (README "Webhooks: events pushed
to banks")."""
