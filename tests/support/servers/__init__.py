"""Real local servers for tests: DNS, TLS and HTTP peers on loopback that misbehave on purpose."""
