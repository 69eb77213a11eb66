FROM python:3.12-alpine
LABEL org.opencontainers.image.title="builder base" \
      maintainer="team@example.com"
ONBUILD COPY requirements.txt /app/
ONBUILD RUN pip install --no-cache-dir -r /app/requirements.txt
HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://localhost:8000/health || exit 1
STOPSIGNAL SIGTERM
VOLUME ["/data", "/cache"]
EXPOSE 8000/tcp 9000
MAINTAINER someone
ADD --chown=app:app https://example.com/model.tar.gz /models/
CMD python -m app
