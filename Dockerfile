# The Mission worker. Build: docker build -t mission-worker .   Run: see docker-compose.yml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
# git for the missions' worktrees and commits; agents' commands often need a compiler and make too;
# bubblewrap is the sandbox every agent and validation command runs in (see README, Security).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates build-essential python3 bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 # Repositories are mounted from the host and owned by another user: let git work in them.
 && git config --system --add safe.directory '*'
WORKDIR /app
ENV NODE_ENV=production MISSION_HOME=/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
VOLUME ["/data"]
ENTRYPOINT ["node", "bin/mission.js"]
CMD ["worker"]
