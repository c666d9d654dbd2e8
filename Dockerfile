# syntax=docker/dockerfile:1
# phigate: the controller, the cluster gateway and the standalone gateway in one image.
#
#   docker build -t ghcr.io/phigate/phigate:0.1.0 .
#   docker run --rm ghcr.io/phigate/phigate:0.1.0 --help
#   docker run --rm -p 8080:8080 ghcr.io/phigate/phigate:0.1.0 demo --host 0.0.0.0
#
# The base is pinned to an exact Node 20 LTS release on Debian 12; for a reproducible build
# also pin its digest (docker buildx imagetools inspect node:20.20.2-bookworm-slim) with
#   --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest>
# TypeScript runs through tsx (a runtime dependency), so there is no compile stage: the first
# stage installs the production dependencies (DuckDB's native binding among them), the second
# holds only what `phigate` reads at run time.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="phigate" \
      org.opencontainers.image.description="Policy-enforcing gateway between AI agents and data warehouses holding PHI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed non-root user (uid/gid 65532, as the chart's securityContext and the gateways the
# controller renders expect) with a home directory, so that os.homedir() resolves.
RUN groupadd --system --gid 65532 phigate \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/phigate --create-home --shell /usr/sbin/nologin phigate \
 && install -d -o 65532 -g 65532 /var/cache/phigate
ENV NODE_ENV=production \
    HOME=/home/phigate \
    PHIGATE_CACHE_DIR=/var/cache/phigate
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# What the program reads at run time: its sources (run by tsx), the CRDs (policy validation),
# the demo policy (`phigate demo`) and package.json (version); the lockfile for SBOM scanners.
# Owned by root, read-only to phigate.
COPY package.json package-lock.json ./
COPY bin/phigate.mjs ./bin/phigate.mjs
COPY src ./src
COPY crds ./crds
COPY manifests/examples ./manifests/examples
USER 65532:65532
# 8080: `phigate serve`/`demo` and the controller's /metrics; 8443: the cluster gateway.
EXPOSE 8080 8443
# Health is checked by Kubernetes probes, not a Docker HEALTHCHECK: the controller serves
# /healthz and /readyz on its metrics port (8080), gateways on their own port (8443; /readyz
# answers 503 until the policies are compiled and the warehouse is open). The chart and the
# controller's rendered Deployments declare those probes.
HEALTHCHECK NONE
ENTRYPOINT ["node", "/app/bin/phigate.mjs"]
CMD ["--help"]
