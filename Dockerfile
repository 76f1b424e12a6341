# docker-live-upgrade as an image. The host install (npm install -g) is the recommended way: see
# README "Running from the image" for how this runs against its host, and why.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# .npm-cache (optional, in the build context): an npm cache for builds without network access.
# (.dockerignore is named too so that the COPY has a source when there is no cache.)
COPY .dockerignore .npm-cach[e] /src/.npm-cache/
RUN if [ -d .npm-cache/_cacache ]; then npm ci --offline --cache /src/.npm-cache --no-audit --no-fund; \
    else npm ci --no-audit --no-fund; fi
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
# production dependencies afresh (npm prune would ask the registry about esbuild's platform packages)
RUN npm run build && rm -rf node_modules && \
    if [ -d .npm-cache/_cacache ]; then npm ci --omit=dev --offline --cache /src/.npm-cache --no-audit --no-fund; \
    else npm ci --omit=dev --no-audit --no-fund; fi && rm -rf .npm-cache

FROM ${BASE_IMAGE}
WORKDIR /opt/docker-live-upgrade
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY config/config.example.yaml ./config/config.example.yaml
# Acts on the host mounted at /host (commands run as `chroot /host ...`).
ENV DOCKER_LIVE_UPGRADE_CONFIG=/etc/docker-live-upgrade/config.yaml
COPY config/image.yaml /etc/docker-live-upgrade/config.yaml
ENTRYPOINT ["node", "/opt/docker-live-upgrade/dist/src/cli/main.js"]
CMD ["daemon"]
