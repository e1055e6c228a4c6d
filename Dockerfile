# The live server (docs/live.md) as a Cloud Run image. Not built in CI (no Docker there):
# tests/test_live_docker.py checks it statically.
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv
COPY pyproject.toml ./
COPY shared/ shared/
# The package with its pinned dependencies and the pinned `live` extra (pyproject.toml).
RUN pip install --no-cache-dir ".[live]"
ENV PYTHONPATH=/srv/shared
# Cloud Run sets $PORT; SIGTERM closes every socket with 1001 before the instance stops.
CMD ["sh", "-c", "exec python -m boiler.live --app meeting_room --host 0.0.0.0 --port ${PORT:-8080}"]
