FROM busybox
RUN echo ok
FROB /x
