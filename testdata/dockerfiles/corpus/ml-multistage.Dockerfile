ARG CUDA_VERSION=12.4.1
ARG PYTHON=python3.11

FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu22.04 AS build
ARG PYTHON
ENV VENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        ${PYTHON} ${PYTHON}-venv ${PYTHON}-dev build-essential \
    # the venv holds everything we ship
    && ${PYTHON} -m venv $VENV
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    $VENV/bin/pip install -r requirements.txt

from nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu22.04 as runtime
ENV VENV=/opt/venv PATH="/opt/venv/bin:$PATH"
copy --from=build --chown=1000:1000 ${VENV} ${VENV}
COPY --chmod=755 entrypoint.sh /usr/local/bin/
USER 1000
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
