# Baton's own image.
#
#   docker build -t baton .
#   docker run -d --name baton --network host \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v "$PWD/conf:/etc/baton" baton
#
# Mount a folder, not just baton.yaml: the control socket and the state file are relative to
# the config file by default and must be writable by the container's user (uid 1000 unless
# --user says otherwise). The Docker socket (and --group-add, so uid 1000 may use it) is needed
# only for services with `runtime: docker`. docs/docker.md has the details.
# The repo's config/ and examples/ are copied to /app/config and /app/examples for reference.
#
# Without a registry (CI here) test/docker/images/baton-image.sh builds this same runtime stage
# from artifacts compiled on the host.
ARG BUILD_BASE=node:24-bookworm-slim
ARG BASE=node:24-bookworm-slim

# -- build: compile TypeScript, then keep production dependencies only --------------------
FROM ${BUILD_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (a build) needs src/, copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# -- runtime: node, the compiled code and its dependencies; no npm, no sources -------------
FROM ${BASE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
COPY config ./config
USER 1000:1000
EXPOSE 8080
CMD ["node", "dist/cli.js", "start", "-c", "/etc/baton/baton.yaml"]
