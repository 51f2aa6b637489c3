# The credit-ledger service image (used by docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
COPY replay ./replay
COPY credit_ledger ./credit_ledger
RUN pip install --no-cache-dir . && useradd --system --home /app ledger && chown ledger /app
USER ledger

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["credit-ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
