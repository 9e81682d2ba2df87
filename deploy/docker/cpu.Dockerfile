# syntax=docker/dockerfile:1.7
# durable-rlhf worker image, CPU execution provider (onnxruntime-node ships it).
#
#   docker build -f deploy/docker/cpu.Dockerfile -t durable-rlhf-worker:cpu .     (context: the repo root)
#   docker run --rm -e RLHF_WORKER_QUEUES=control ... durable-rlhf-worker:cpu
#
# Stages: deps (production node_modules, other platforms' native binaries pruned) → bundle (workflow
# bundle prebuilt with bundleWorkflowCode) → runtime (non-root, no npm cache, no dev dependencies).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# .npmrc carries onnxruntime-node-install=skip: the CPU provider is inside the package, nothing to download.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force
COPY deploy/docker/prune-native.sh /tmp/prune-native.sh
RUN sh /tmp/prune-native.sh /app/node_modules

FROM deps AS bundle
COPY tsconfig.json ./
COPY shared ./shared
COPY workflows ./workflows
COPY activities ./activities
COPY engine ./engine
COPY tasks ./tasks
COPY deploy/docker/bundle-workflows.ts ./deploy/docker/bundle-workflows.ts
RUN node --import tsx deploy/docker/bundle-workflows.ts /app/dist/workflow-bundle.js

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    RLHF_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    RLHF_SCRATCH_DIR=/scratch \
    RLHF_SHUTDOWN_GRACE=60s
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json tsconfig.json ./
COPY --chown=root:root shared ./shared
COPY --chown=root:root engine ./engine
COPY --chown=root:root activities ./activities
COPY --chown=root:root workflows ./workflows
COPY --chown=root:root workers ./workers
COPY --chown=root:root tasks ./tasks
COPY --chown=root:root report ./report
COPY --chown=root:root cli ./cli
COPY --chown=root:root deploy/docker/bundle-workflows.ts deploy/docker/ensure-bucket.ts ./deploy/docker/
COPY --from=bundle --chown=root:root /app/dist ./dist
# The code is read-only to the worker; it writes only to its scratch dir (model folders between S3 and the engine).
RUN mkdir -p /scratch && chown node:node /scratch
USER 1000:1000
VOLUME ["/scratch"]
# Node is PID 1 here: the Temporal runtime installs SIGTERM/SIGINT handlers itself and drains the workers
# (in-flight activities get RLHF_SHUTDOWN_GRACE). Compose adds an init process for zombie reaping.
ENTRYPOINT ["node", "--import", "tsx", "workers/main.ts"]
CMD []
