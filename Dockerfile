# adx-ingestor: build the TypeScript, then run on a slim Node 20 (bookworm: the uWebSockets.js
# native binary needs its glibc; the server refuses to start on the slow JS fallback).
FROM node:20-bookworm-slim AS build
# A C compiler for the native hot path (native/hotpath.c); the image then runs with --hot-path native.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY perf ./perf
COPY scripts ./scripts
COPY native ./native
RUN npm run build && node scripts/build-native.mjs --force --require && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    ADX_INGESTOR_STORAGE_DIR=/var/lib/adx-ingestor
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build ./native/build
RUN mkdir -p /var/lib/adx-ingestor && chown node:node /var/lib/adx-ingestor
USER node
VOLUME /var/lib/adx-ingestor
# 9090: remote write (/api/v1/write, /receive); 9091: /metrics, /readyz, /healthz
EXPOSE 9090 9091
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve", "--hot-path", "native"]
