"""The application: handlers for commands, queries, tokens, draws and the audit log."""
