#!/bin/sh
# Registers durable-rlhf's custom search attributes (shared/search-attributes.ts) in the namespace, once
# Temporal answers. Idempotent: attributes already present are skipped. Runs in temporalio/admin-tools.
set -eu
namespace="${TEMPORAL_NAMESPACE:-default}"

until temporal operator cluster health 2>/dev/null | grep -q SERVING; do
  echo "waiting for Temporal at ${TEMPORAL_ADDRESS}..."
  sleep 2
done
until temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; do
  echo "waiting for namespace ${namespace}..."
  sleep 2
done

existing="$(temporal operator search-attribute list --namespace "$namespace")"
# name type (the list that shared/search-attributes.ts defines; test/deploy checks they agree)
for pair in \
  RlhfRun:Keyword \
  RlhfSweep:Keyword \
  RlhfStage:Keyword \
  RlhfIteration:Int \
  RlhfBeta:Double \
  RlhfLearningRate:Double \
  RlhfBestReward:Double; do
  name="${pair%%:*}"
  type="${pair#*:}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute ${name} already registered"
  else
    temporal operator search-attribute create --namespace "$namespace" --name "$name" --type "$type" --yes
    echo "registered search attribute ${name} (${type})"
  fi
done
