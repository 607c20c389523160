# Lally in a container: docs/operations.md#containers. Build: docker build -t lally .
# Run:   docker run --rm -p 3000:3000 -v lally-data:/data lally
# Stage 1 builds dist/ with the dev dependencies; stage 2 holds only what a node runs.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini is PID 1: it forwards SIGTERM to the daemon and reaps zombies (as `docker run --init` would).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx \
  && mkdir /data && chown node:node /data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
COPY --from=build /app/scripts/healthcheck.mjs ./scripts/healthcheck.mjs
# glibc's malloc tuned as the native addon would (docs/operations.md#running-a-node: the slim image
# has no compiler to build it).
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    LALLY_HOST=0.0.0.0 \
    LALLY_HTTP_PORT=3000 \
    LALLY_GRPC_PORT=50071 \
    LALLY_DATA_DIR=/data
# The node image's unprivileged user (uid 1000); the data volume belongs to it.
USER node
VOLUME ["/data"]
EXPOSE 3000 50071
# No curl in the image: node asks /livez (scripts/healthcheck.mjs; HTTPS when LALLY_TLS_CERT is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "scripts/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/cli/main.js"]
