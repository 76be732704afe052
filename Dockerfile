# lsvd as a container: `lsvd run` is the entrypoint, under tini so SIGTERM reaches it and the
# volume shuts down cleanly (unmount → detach → upload → exit 0).
# Needs --privileged (or CAP_SYS_ADMIN + /dev/nbd* / /dev/fuse + loop devices) to attach and mount.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY cli cli
COPY daemon daemon
COPY nbd nbd
COPY logformat logformat
COPY recovery recovery
COPY store store
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini nbd-client e2fsprogs libnbd-bin fuse3 util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY scripts/docker-entrypoint.sh /usr/local/bin/lsvd-entrypoint
RUN ln -s /app/bin/lsvd.js /usr/local/bin/lsvd
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/lsvd-entrypoint"]
