# syntax=docker/dockerfile:1
# Spine in a container: `docker build -t spine .` then `docker run -p 3000:3000 -v spine-data:/data spine`
# (embedded database in /data), or `docker compose up` for Postgres + pgvector and Redis.

# ---- deps: production dependencies only. tsx is a runtime dependency (Spine runs its TypeScript
# sources through it; there is no build step), so `--omit=dev` still gives a runnable tree.
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime
FROM node:20-slim
ENV NODE_ENV=production \
    SPINE_DATA_DIR=/data \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY app ./app
COPY bot ./bot
COPY connectors ./connectors
COPY core ./core
COPY db ./db
COPY graphs ./graphs
COPY jobs ./jobs
COPY ledger ./ledger
COPY memory ./memory
COPY playbooks ./playbooks
COPY web ./web
# The code stays root-owned and read-only to Spine; only the data directory belongs to the
# unprivileged `node` user (uid 1000) of the base image.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Without a terminal `start` runs the HTTP server and the runner (logs as JSON on stdout);
# with `docker run -it` it also opens the console chat.
CMD ["node", "bin/spine.js", "start"]
