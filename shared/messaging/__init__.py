"""Messaging: CloudEvents envelopes, the outbox relay, log followers and consumers."""
