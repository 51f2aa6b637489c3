"""Admin and auditor tools over the ordered log: replay a subject, rebuild read models, verify."""
