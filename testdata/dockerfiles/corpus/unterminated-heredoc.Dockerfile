FROM busybox
RUN <<EOT
echo never closed
