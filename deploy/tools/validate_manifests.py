"""Validates rendered Kubernetes manifests without a cluster.

- Built-in kinds: strict JSON-schema validation against the schemas that the `kubernetes-validate` package
  bundles for each Kubernetes release (unknown fields are errors).
- Custom resources: strict validation against the openAPIV3Schema of CustomResourceDefinitions found in
  --crd-dir (the KEDA CRDs), after the conversions a structural schema needs (int-or-string, preserved
  unknown fields).
- KEDA `temporal` triggers: metadata keys and TriggerAuthentication parameters checked against the
  parameter tags of KEDA's temporal scaler source (--temporal-scaler), required ones present.

A kind with no schema is an error, not a warning. Prints one JSON report on stdout; exit 1 when any
resource fails, 2 on bad usage.

    python validate_manifests.py --kube-version 1.33.0 --crd-dir DIR --temporal-scaler FILE rendered.yaml...
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import sys
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv


def load_documents(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def structural_to_json_schema(schema: Any) -> Any:
    """OpenAPI v3 structural schema -> JSON Schema, closed where the CRD lists its properties."""
    if isinstance(schema, list):
        return [structural_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: structural_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = structural_to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [structural_to_json_schema(sub) for sub in value]
        elif key.startswith("x-kubernetes-") or key in ("description", "format", "nullable"):
            continue
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def crd_schemas(crd_dir: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema for every served version of every CRD in crd_dir."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(glob.glob(os.path.join(crd_dir, "*.yaml"))):
        for doc in load_documents(path):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                openapi = version["schema"]["openAPIV3Schema"]
                json_schema = structural_to_json_schema(openapi)
                json_schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = json_schema
    return schemas


TAG = re.compile(r'keda:"([^"]+)"')


def scaler_parameters(go_file: str) -> dict[str, Any]:
    """Parameter names of a KEDA scaler from its `keda:"name=..., order=..."` struct tags."""
    metadata: dict[str, bool] = {}
    from_env: set[str] = set()
    auth: set[str] = set()
    with open(go_file, encoding="utf-8") as handle:
        for match in TAG.finditer(handle.read()):
            fields = [part.strip() for part in match.group(1).split(",")]
            props = dict(part.split("=", 1) if "=" in part else (part, "") for part in fields)
            name = props.get("name", "")
            orders = props.get("order", "").split(";")
            if not name:
                continue
            required = "optional" not in props and "default" not in props
            if "triggerMetadata" in orders:
                metadata[name] = required
            if "authParams" in orders:
                auth.add(name)
            if "resolvedEnv" in orders:
                from_env.add(name)
    if not metadata:
        raise SystemExit(f"no keda:\"...\" parameter tags found in {go_file}")
    return {"metadata": metadata, "fromEnv": from_env, "auth": auth}


def schema_error(err: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in err.absolute_path) or "(root)"
    return f"{path}: {err.message}"


def check_temporal_triggers(resources: list[tuple[str, dict]], params: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    auths = {
        doc["metadata"]["name"]: doc
        for _, doc in resources
        if doc.get("kind") == "TriggerAuthentication"
    }
    allowed = set(params["metadata"]) | {f"{name}FromEnv" for name in params["fromEnv"]}
    for path, doc in resources:
        if doc.get("kind") != "ScaledObject":
            continue
        name = doc["metadata"]["name"]
        for index, trigger in enumerate(doc.get("spec", {}).get("triggers", [])):
            if trigger.get("type") != "temporal":
                continue
            where = f"{path}: scaledobject/{name} triggers[{index}]"
            metadata = trigger.get("metadata", {})
            for key, value in metadata.items():
                if key not in allowed:
                    errors.append(f"{where}: unknown temporal scaler parameter '{key}'")
                if not isinstance(value, str):
                    errors.append(f"{where}: parameter '{key}' must be a string")
            for key, required in params["metadata"].items():
                if required and key not in metadata and f"{key}FromEnv" not in metadata:
                    errors.append(f"{where}: missing required temporal scaler parameter '{key}'")
            for key in ("targetQueueSize", "activationTargetQueueSize"):
                if key in metadata and not re.fullmatch(r"\d+", str(metadata[key])):
                    errors.append(f"{where}: '{key}' must be an integer, got {metadata[key]!r}")
            ref = trigger.get("authenticationRef")
            if ref:
                auth = auths.get(ref.get("name"))
                if ref.get("kind", "TriggerAuthentication") != "TriggerAuthentication":
                    continue
                if auth is None:
                    errors.append(f"{where}: authenticationRef '{ref.get('name')}' names no TriggerAuthentication")
                    continue
                for target in auth.get("spec", {}).get("secretTargetRef", []):
                    if target.get("parameter") not in params["auth"]:
                        errors.append(
                            f"{path}: triggerauthentication/{auth['metadata']['name']}: parameter "
                            f"'{target.get('parameter')}' is not a temporal scaler auth parameter "
                            f"({', '.join(sorted(params['auth']))})"
                        )
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kube-version", required=True)
    parser.add_argument("--crd-dir", action="append", default=[])
    parser.add_argument("--temporal-scaler")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    custom: dict[tuple[str, str], dict[str, Any]] = {}
    for crd_dir in args.crd_dir:
        custom.update(crd_schemas(crd_dir))

    report: dict[str, Any] = {"kubeVersion": args.kube_version, "resources": [], "errors": []}
    resources: list[tuple[str, dict]] = []
    for path in args.files:
        try:
            docs = load_documents(path)
        except yaml.YAMLError as exc:
            report["errors"].append(f"{path}: not valid YAML: {exc}")
            continue
        for doc in docs:
            kind, api_version = doc.get("kind"), doc.get("apiVersion")
            name = (doc.get("metadata") or {}).get("name", "?")
            label = f"{path}: {str(kind).lower()}/{name}"
            if not kind or not api_version:
                report["errors"].append(f"{label}: apiVersion and kind are required")
                continue
            resources.append((path, doc))
            entry = {"file": path, "apiVersion": api_version, "kind": kind, "name": name}
            if (api_version, kind) in custom:
                validator = jsonschema.Draft7Validator(custom[(api_version, kind)])
                errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
                entry["schema"] = "crd"
                report["errors"].extend(f"{label}: {schema_error(e)}" for e in errors)
            else:
                entry["schema"] = "kubernetes"
                try:
                    kv.validate(doc, args.kube_version, strict=True)
                except kv.ValidationError as exc:
                    report["errors"].append(f"{label}: {schema_error(exc)}")
                except kv.SchemaNotFoundError as exc:
                    report["errors"].append(f"{label}: {exc.message}")
                except kv.VersionNotSupportedError as exc:
                    report["errors"].append(f"kubernetes-validate: {exc.message}")
            report["resources"].append(entry)

    if args.temporal_scaler:
        report["errors"].extend(check_temporal_triggers(resources, scaler_parameters(args.temporal_scaler)))

    report["errors"] = list(dict.fromkeys(report["errors"]))
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
