"""Shared test servers and helpers: real local peers, namespaces, shaped links."""
