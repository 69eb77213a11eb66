# A realistic Python ML image with realistic waste, for layerscope's benchmarks
# (see scripts/build-real-image.sh and BENCHMARKS.md).
FROM localhost/layerscope-bookworm-py:base
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=180
# wheels copied into the image, installed, deleted later (shadowed waste)
RUN mkdir -p /tmp/wheels && pip download --no-deps -d /tmp/wheels numpy scipy pandas
RUN pip install numpy scipy pandas scikit-learn
# the big one: CPU part of torch (the nvidia-* wheels are left out to keep the download sane)
RUN pip install --no-deps torch && pip install sympy networkx jinja2 filelock fsspec typing-extensions
# a pip cache, made deliberately (the build proxy strips cache headers)
RUN mkdir -p /root/.cache/pip/wheels && cp /tmp/wheels/*.whl /root/.cache/pip/wheels/
RUN rm -rf /tmp/wheels
# the classic chown -R over every installed package: a metadata-only rewrite
RUN useradd -m app && chown -R app:app /usr/local/lib/python3.11/dist-packages
USER app
CMD ["python3", "-c", "import numpy, scipy, pandas, sklearn, torch; print('ok')"]
