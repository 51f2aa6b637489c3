"""HTTP adapter: FastAPI routers, schemas, auth and error mapping over the ledger; no rules."""
