# syntax=docker/dockerfile:1.7
FROM python:3.12-slim
WORKDIR /srv
RUN <<EOT bash
set -eux
apt-get update
apt-get install -y --no-install-recommends curl
rm -rf /var/lib/apt/lists/*
EOT
COPY <<EOF /srv/app.conf
port = 8080
EOF
RUN python3 - <<'PY'
print("no $expansion here")
PY
CMD ["python3", "-m", "http.server"]
