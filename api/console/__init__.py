"""The web console for department staff and auditors, served at /console over the HTTP API."""
