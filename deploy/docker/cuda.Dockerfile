# syntax=docker/dockerfile:1.7
# durable-rlhf worker image, CUDA execution provider: CUDA 12 + cuDNN 9 runtime, Node 20, and
# onnxruntime-node's CUDA provider libraries (installed by its install script with
# onnxruntime-node-install=cuda12; the build needs network access to the package's download feed).
#
#   docker build -f deploy/docker/cuda.Dockerfile -t durable-rlhf-worker:cuda .    (context: the repo root)
#   docker run --rm --gpus all -e RLHF_WORKER_QUEUES=inference,train ... durable-rlhf-worker:cuda
#
# Runs select the provider with the recipe's engine setting device: "cuda".
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS node

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# No .npmrc here: the project's .npmrc says onnxruntime-node-install=skip; this stage wants the CUDA 12 build.
ENV npm_config_onnxruntime_node_install=cuda12 \
    ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force
COPY deploy/docker/prune-native.sh /tmp/prune-native.sh
RUN sh /tmp/prune-native.sh /app/node_modules \
    && ls /app/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime_providers_cuda.so

FROM deps AS bundle
COPY tsconfig.json ./
COPY shared ./shared
COPY workflows ./workflows
COPY activities ./activities
COPY engine ./engine
COPY tasks ./tasks
COPY deploy/docker/bundle-workflows.ts ./deploy/docker/bundle-workflows.ts
RUN node --import tsx deploy/docker/bundle-workflows.ts /app/dist/workflow-bundle.js

FROM ${CUDA_IMAGE} AS runtime
# Node 20 from the official image (its binary is built for glibc 2.28, Ubuntu 22.04 has 2.35).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    RLHF_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    RLHF_SCRATCH_DIR=/scratch \
    RLHF_SHUTDOWN_GRACE=60s \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN groupadd --gid 1000 node \
    && useradd --uid 1000 --gid node --shell /usr/sbin/nologin --create-home node \
    && mkdir -p /scratch && chown node:node /scratch
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
USER 1000:1000
VOLUME ["/scratch"]
ENTRYPOINT ["node", "--import", "tsx", "workers/main.ts"]
CMD []
