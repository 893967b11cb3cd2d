# syntax=docker/dockerfile:1
# One image, three processes (docs/architecture.md): `service` (default), `worker`, `migrate`;
# plus `seed`. The runtime stage holds the compiled JavaScript and production dependencies only:
# no TypeScript, no test libraries, no aws-cdk-lib. It runs as the non-root `node` user.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Compile TypeScript (tsconfig.build.json: service/src and worker/src → dist/).
FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY service/src service/src
COPY worker/src worker/src
RUN npm run build

# Production dependencies only, installed from the same lockfile. npm also installs TypeScript,
# a dev dependency that valibot (under @bull-board/api) names as an optional peer; nothing needs
# it at run time, so it is removed.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && rm -rf node_modules/typescript && npm cache clean --force

FROM base AS runtime
ENV NODE_ENV=production \
    PORT=3000
# Code and dependencies stay owned by root: the `node` user can run them but not change them.
# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --chmod=0755 scripts/docker-entrypoint.sh ./scripts/docker-entrypoint.sh
USER node
# 3000: HTTP API (PORT). 9464: Prometheus metrics (METRICS_PORT), not routed by the load balancer.
EXPOSE 3000 9464
# No HEALTHCHECK: the same image runs the worker and one-shot migrate, and the load balancer
# probes /health/ready on the service itself.
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["service"]
