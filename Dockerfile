# claude-code-api: multi-stage image. Build: docker build -t claude-code-api .  Run: see docker-compose.yml and docs/deployment.md.

# --- build: compile TypeScript and the native SQLite driver ---
FROM node:22-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY console ./console
RUN npm run build && npm prune --omit=dev

# --- runtime: non-root, with Claude Code's sandbox tools ---
FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap socat git ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system app && useradd --system --gid app --create-home --home-dir /home/app app \
 && mkdir -p /data /workspaces /home/app/.claude && chown -R app:app /data /workspaces /home/app
WORKDIR /app
COPY --from=build --chown=app:app /app/node_modules ./node_modules
COPY --from=build --chown=app:app /app/dist ./dist
COPY --chown=app:app package.json ./
COPY --chown=app:app templates ./templates
COPY --chown=app:app moderation ./moderation
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    APPROVED_DIRECTORY=/workspaces \
    CLAUDE_CONFIG_DIR=/home/app/.claude \
    HOME=/home/app
USER app
VOLUME ["/data", "/workspaces", "/home/app/.claude"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/api/v1/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/cli.js", "serve"]
