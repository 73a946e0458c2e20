# syntax=docker/dockerfile:1
# Build: docker build -t acihost .   (.dockerignore lets in only what the build reads)
# Without a registry, with podman: scripts/container-base.sh && scripts/podman.sh build --format docker --pull=never --network=host -t acihost .
# Run with certificate files (reloaded when they change; SIGHUP also reloads):
#   docker run -p 443:8443 -v acihost-data:/data -e ACIHOST_PUBLIC_URL=https://aci.example.com \
#     -e ACIHOST_TLS_CERT=/certs/fullchain.pem -e ACIHOST_TLS_KEY=/certs/privkey.pem -v /etc/acihost/certs:/certs:ro acihost
# Or with ACME (Let's Encrypt): port 80 answers HTTP-01 challenges and redirects to HTTPS:
#   docker run -p 443:8443 -p 80:8080 -v acihost-data:/data -e ACIHOST_PUBLIC_URL=https://aci.example.com \
#     -e ACIHOST_ACME_DIRECTORY=letsencrypt -e ACIHOST_ACME_AGREE_TOS=true -e ACIHOST_ACME_EMAIL=ops@example.com \
#     -e ACIHOST_HTTP_PORT=8080 acihost
# `docker stop` sends SIGTERM: readiness fails (5 s), requests in flight finish (30 s grace), exit 0;
# run with --stop-timeout 45, as docker sends SIGKILL after 10 s by default.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the only one, of the devDependency `node`, would fetch a second Node runtime.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts/check-node.mjs ./scripts/
COPY config ./config
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
# xz and bzip2 decode pushed ACIs of those formats (gzip and plain tar need nothing).
RUN apt-get update && apt-get install -y --no-install-recommends xz-utils bzip2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# `acihost serve` gives itself its memory settings (glibc mmap threshold, V8 semi-spaces): none here.
ENV NODE_ENV=production \
    ACIHOST_STORAGE_DIR=/data/storage \
    ACIHOST_PORT=8443
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY config ./config
COPY --from=build /app/dist ./dist
RUN mkdir -p /data/storage /app/certs /certs && chown -R node:node /data /app/certs
USER node
# /data: the storage (images, keys, tokens, ACME account and certificate); /app/certs: the development CA;
# /certs: certificate files mounted from the host (read-only is fine).
VOLUME ["/data", "/app/certs", "/certs"]
EXPOSE 8443
# No curl in the image: dist/healthcheck.js asks /-/health/ready on the configured port (TLS not verified: loopback).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["node", "dist/healthcheck.js"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "serve"]
