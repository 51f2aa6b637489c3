"""One home per rule: grade, supervision tier, authority, queues, repair and populations."""
