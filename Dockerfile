# syntax=docker/dockerfile:1
# Build: docker build -t acihost .
# Run:   docker run -p 443:8443 -v acihost-data:/data -e ACIHOST_PUBLIC_URL=https://aci.example.com \
#          -e ACIHOST_TLS_CERT=/certs/fullchain.pem -e ACIHOST_TLS_KEY=/certs/privkey.pem -v /etc/acihost/certs:/certs:ro acihost
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY config ./config
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
# xz and bzip2 decode pushed ACIs of those formats (gzip and plain tar need nothing).
RUN apt-get update && apt-get install -y --no-install-recommends xz-utils bzip2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    ACIHOST_STORAGE_DIR=/data/storage
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY config ./config
COPY --from=build /app/dist ./dist
RUN mkdir -p /data/storage /app/certs && chown -R node:node /data /app/certs
USER node
VOLUME ["/data"]
EXPOSE 8443
CMD ["node", "dist/cli.js", "serve"]
