# Payguard service image (used by docker-compose.yml).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# Production defaults: no sandbox gateway or sandbox channels. Run with API keys, e.g.
#   docker run -e API_KEYS='<key>:merchantA,<key>:*:operator' -e PUBLIC_BASE_URL=https://pay.example ...
# (without API_KEYS the service runs open and says so). For a demo with the sandbox, add
#   -e SANDBOX_ENABLED=true -e SANDBOX_SECRET=<a long random string>
# (with API_KEYS set, the service refuses to start on the public default secret).
ENV NODE_ENV=production \
    SANDBOX_ENABLED=false
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
EXPOSE 3000
USER node
CMD ["node", "dist/src/main.js"]
