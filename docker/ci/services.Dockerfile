# CI's stand-ins for the official images compose.yaml uses (postgres, redis, nginx, coturn), built
# from the local debootstrap base with Debian's packages because no image registry is reachable on
# the CI machines. Each target keeps the interface compose.yaml relies on (environment, data paths,
# commands, health-check tools). Real deployments use the official images.
#   podman build --target postgres -t localhost/helpdesk-ci/postgres -f docker/ci/services.Dockerfile docker/ci
ARG BASE=localhost/helpdesk-ci/debian:bookworm

FROM ${BASE} AS apt
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update

# postgres:16: POSTGRES_USER/PASSWORD/DB create the cluster on first start, data in
# /var/lib/postgresql/data, pg_isready and pg_dump on the PATH, local connections trusted.
FROM apt AS postgres
RUN apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]

# redis:7: `redis-server ...` as the command, /data as the working directory.
FROM apt AS redis
RUN apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && mkdir -p /data
WORKDIR /data
CMD ["redis-server"]

# nginx:1.28: /etc/nginx/nginx.conf replaced by a volume, curl for the health check.
FROM apt AS nginx
RUN apt-get install -y --no-install-recommends nginx curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

# coturn/coturn:4.6: the command is turnserver's options.
FROM apt AS coturn
RUN apt-get install -y --no-install-recommends coturn \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
ENTRYPOINT ["turnserver"]
