"""Read models kept from the ordered event log (current grades, tiers, feed, annual results)."""
