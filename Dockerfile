# syntax=docker/dockerfile:1
# Payguard's production image: Node 24 (active LTS; better-sqlite3 12 supports Node 20 to 26),
# built in one stage and run in another without compilers, dev dependencies or sources, as the
# unprivileged `node` user, with its data in the /app/data volume.
#   docker build -t payguard .
#   docker run -p 3000:3000 -v payguard-data:/app/data \
#     -e API_KEYS='<key>:merchantA,<key>:*:auditor,<key>:*:operator' -e PUBLIC_BASE_URL=https://pay.example payguard
# Production defaults: no sandbox gateway or sandbox channels (SANDBOX_ENABLED=false). For a demo
# with the sandbox, add -e SANDBOX_ENABLED=true -e SANDBOX_SECRET=<a long random string> (with
# API_KEYS set, the service refuses to start on the public default secret).

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary; the compilers are the fallback when none fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY soak ./soak
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data \
    SANDBOX_ENABLED=false
WORKDIR /app
# Owned by root and read-only to the service; only /app/data is writable (by `node`).
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `payguard` (the audit CLI): docker exec <container> node scripts/payguard.mjs verify
COPY scripts ./scripts
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
# No curl in the slim image: Node's own fetch. Ready means the store takes a write and a read.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# docker stop sends SIGTERM, which drains requests in flight (SHUTDOWN_GRACE_MS, default 10 s):
# give it longer than that, e.g. docker stop -t 15.
# The same V8 setting as `npm start`: a young generation of 64 MB semi-spaces (see package.json).
CMD ["node", "--max-semi-space-size=64", "dist/src/main.js"]
