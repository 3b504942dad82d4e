"""Offline checks of the rendered Kubernetes manifests in deploy/k8s/ (tests/test_deploy.py).

Each check takes the rendered documents and returns what is wrong, one line per problem, so a
test asserts an empty list and another shows the same check catching a broken manifest.
Schemas: the built-in kinds against the Kubernetes OpenAPI schemas `kubernetes-validate`
bundles (strict: unknown fields are errors), the CloudNativePG kinds against the operator's
CRDs vendored in deploy/k8s/schemas/cloudnative-pg/ (made strict the same way).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate.utils as kubernetes_validate
import yaml
from pydantic import AliasChoices

from shared.settings import CoreSettings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
CNPG_CRDS = K8S / "schemas" / "cloudnative-pg"
KUBERNETES_VERSION = "1.32.0"
Doc = dict[str, Any]

# What the pods of CloudNativePG resources are labelled with, as CloudNativePG 1.30.0 labels
# them (pkg/specs/pods.go, pkg/specs/pgbouncer/deployments.go): NetworkPolicies select them.
CNPG_KINDS = {"Cluster": "clusters", "Pooler": "poolers", "ScheduledBackup": "scheduledbackups"}
# Variables the containers may set that are not InnoCredit settings: libpq reads PGPASSWORD
# when DATABASE_URL carries no password.
LIBPQ_ENV = frozenset({"PGPASSWORD"})
# Variables whose value is a secret: only ever from a Secret.
SECRET_ENV = frozenset({"PGPASSWORD", "INNOCREDIT_KEY_ENCRYPTION_KEY"})
# What every server pod and the migration Job must set.
REQUIRED_ENV = frozenset({"DATABASE_URL", "INNOCREDIT_KEY_ENCRYPTION_KEY", "INNOCREDIT_DB_POOLER"})
REQUIRED_JOB_ENV = frozenset(
    {"DATABASE_URL", "INNOCREDIT_DB_POOLER", "INNOCREDIT_MIGRATION_DATABASE_URL"}
)


def render(kustomization: Path) -> list[Doc]:
    """`kubectl kustomize` of one directory: the documents it renders."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError(
            "kubectl is not installed: the deploy tests render deploy/k8s with `kubectl "
            "kustomize` (Debian/Ubuntu: apt-get install kubectl)"
        )
    done = subprocess.run(
        [kubectl, "kustomize", str(kustomization)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {kustomization} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """The documents of one kind, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[Doc]) -> Iterator[Doc]:
    """Deployments and Jobs: everything with a pod template."""
    return (d for d in docs if d["kind"] in ("Deployment", "Job"))


def containers(workload: Doc) -> list[Doc]:
    """The containers of a workload's pod template."""
    containers: list[Doc] = workload["spec"]["template"]["spec"]["containers"]
    return containers


# ------------------------------------------------------------------------------ schemas


def _strict(schema: Any) -> Any:
    """A CRD schema that rejects unknown fields (the API server would silently drop them)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


@cache
def crd_validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    """A validator for one CloudNativePG kind from its vendored CRD."""
    path = CNPG_CRDS / f"postgresql.cnpg.io_{CNPG_KINDS[kind]}.yaml"
    crd = yaml.safe_load(path.read_text())
    version = api_version.rsplit("/", 1)[-1]
    (entry,) = (v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = _strict(entry["schema"]["openAPIV3Schema"])
    validator: jsonschema.protocols.Validator = jsonschema.Draft7Validator(schema)
    return validator


def schema_problems(docs: list[Doc]) -> list[str]:
    """Every document against its schema: Kubernetes' (strict) or a vendored CRD's."""
    problems = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in CNPG_KINDS:
            validator = crd_validator(doc["kind"], doc["apiVersion"])
            for error in validator.iter_errors(doc):
                path = ".".join(str(p) for p in error.absolute_path)
                problems.append(f"{where}: {path}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")
    return problems


# ------------------------------------------------------------------------------ pods


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions, or a plain map) selects."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and value in expr["values"])
            or (op == "Exists" and value is None)
            or (op == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def pod_labels(docs: list[Doc]) -> list[dict[str, str]]:
    """The label sets of every pod the documents make, CloudNativePG's pods included."""
    labels = [dict(w["spec"]["template"]["metadata"]["labels"]) for w in workloads(docs)]
    for name in named(docs, "Cluster"):
        labels.append(
            {
                "cnpg.io/cluster": name,
                "cnpg.io/podRole": "instance",
                "app.kubernetes.io/name": "postgresql",
                "app.kubernetes.io/component": "database",
            }
        )
    for name, pooler in named(docs, "Pooler").items():
        labels.append(
            {
                "cnpg.io/poolerName": name,
                "cnpg.io/cluster": pooler["spec"]["cluster"]["name"],
                "cnpg.io/podRole": "pooler",
                "app.kubernetes.io/name": "postgresql",
                "app.kubernetes.io/component": "pooler",
            }
        )
    return labels


def pod_problems(docs: list[Doc]) -> list[str]:
    """Each Deployment probes /healthz and /readyz; every workload has cpu and memory
    requests and limits and the restrictive security context; a read-only root has /tmp."""
    problems = []
    for workload in workloads(docs):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod = workload["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        if pod_security.get("runAsNonRoot") is not True:
            problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: a service-account token is mounted")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            at = f"{where} container {container['name']}"
            if workload["kind"] == "Deployment":
                for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                    got = container.get(probe, {}).get("httpGet", {}).get("path")
                    if got != path:
                        problems.append(f"{at}: {probe} is not an HTTP GET of {path} ({got})")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(part, {}):
                        problems.append(f"{at}: no {resource} in resources.{part}")
            problems += _container_security(at, container, pod_security, volumes)
    return problems


def _container_security(
    at: str, container: Doc, pod_security: Doc, volumes: dict[str, Doc]
) -> list[str]:
    security = container.get("securityContext", {})
    problems = []
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{at}: allowPrivilegeEscalation is not false")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{at}: readOnlyRootFilesystem is not true")
    if "ALL" not in security.get("capabilities", {}).get("drop", []):
        problems.append(f"{at}: capabilities do not drop ALL")
    seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        problems.append(f"{at}: seccompProfile is not RuntimeDefault")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):  # noqa: S108  (a mount path)
        problems.append(f"{at}: /tmp is not a writable emptyDir (the root is read-only)")
    return problems


def command_problems(docs: list[Doc], scripts: Mapping[str, str]) -> list[str]:
    """Each container runs a program the image has: the `innocredit` script, or uvicorn on a
    factory of services.runtime with the UTF-8 URL protocol."""
    problems = []
    for workload in workloads(docs):
        for container in containers(workload):
            at = f"{workload['kind']}/{workload['metadata']['name']}"
            command = container.get("command", [])
            if command[:1] == ["uvicorn"]:
                target = command[1]
                options = dict(a.removeprefix("--").split("=", 1) for a in command if "=" in a)
                for ref in (target, options.get("http", "")):
                    if not _importable(ref):
                        problems.append(f"{at}: {ref!r} is not an importable module:attribute")
                if "--factory" not in command:
                    problems.append(f"{at}: {target} is a factory: --factory is missing")
            elif not command or command[0] not in scripts:
                problems.append(f"{at}: runs {command[:1]}, not uvicorn or {sorted(scripts)}")
    return problems


def _importable(ref: str) -> bool:
    module, _, attribute = ref.partition(":")
    try:
        return bool(attribute) and hasattr(importlib.import_module(module), attribute)
    except ImportError:
        return False


# ------------------------------------------------------------------------------ wiring


def service_problems(docs: list[Doc]) -> list[str]:
    """Every Service selects the pods of a workload and targets a port they name."""
    problems = []
    templates = [w["spec"]["template"] for w in workloads(docs)]
    for name, service in named(docs, "Service").items():
        selector = service["spec"].get("selector", {})
        chosen = [t for t in templates if selector and _matches(selector, t["metadata"]["labels"])]
        if not chosen:
            problems.append(f"Service/{name}: its selector {selector} matches no pod template")
            continue
        ports = {p.get("name") for t in chosen for c in t["spec"]["containers"] for p in c["ports"]}
        ports |= {
            p["containerPort"] for t in chosen for c in t["spec"]["containers"] for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in ports:
                problems.append(f"Service/{name}: targetPort {port.get('targetPort')} not exposed")
    return problems


def least_replicas(docs: list[Doc]) -> dict[str, int]:
    """Each Deployment's fewest pods: its HPA's minReplicas, else its own replicas (1)."""
    replicas = {n: d["spec"].get("replicas", 1) for n, d in named(docs, "Deployment").items()}
    for hpa in named(docs, "HorizontalPodAutoscaler").values():
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] == "Deployment" and target["name"] in replicas:
            replicas[target["name"]] = hpa["spec"].get("minReplicas", 1)
    return replicas


def scaling_problems(docs: list[Doc]) -> list[str]:
    """Every HPA targets an existing Deployment; every PDB selects one and lets a drain evict
    a pod (fewer pods required than the Deployment's fewest)."""
    problems = []
    deployments = named(docs, "Deployment")
    for name, hpa in named(docs, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment" or target["name"] not in deployments:
            problems.append(f"HorizontalPodAutoscaler/{name}: targets no Deployment ({target})")
    fewest = least_replicas(docs)
    for name, pdb in named(docs, "PodDisruptionBudget").items():
        selector = pdb["spec"]["selector"]
        chosen = [
            n
            for n, d in deployments.items()
            if _matches(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        if not chosen:
            problems.append(f"PodDisruptionBudget/{name}: selects no Deployment's pods")
        for deployment in chosen:
            budget = pdb["spec"]
            if "minAvailable" in budget and not (
                isinstance(budget["minAvailable"], int)
                and budget["minAvailable"] < fewest[deployment]
            ):
                problems.append(
                    f"PodDisruptionBudget/{name}: minAvailable {budget['minAvailable']} with "
                    f"{fewest[deployment]} pod(s) of {deployment} blocks every drain"
                )
            if budget.get("maxUnavailable") in (0, "0%"):
                problems.append(f"PodDisruptionBudget/{name}: maxUnavailable 0 blocks every drain")
    return problems


def network_policy_problems(docs: list[Doc]) -> list[str]:
    """Every NetworkPolicy, and every same-namespace peer it admits, selects existing pods."""
    problems = []
    pods = pod_labels(docs)
    for name, policy in named(docs, "NetworkPolicy").items():
        selectors = [("podSelector", policy["spec"]["podSelector"])]
        for rule in policy["spec"].get("ingress", []):
            selectors += [
                ("from podSelector", peer["podSelector"])
                for peer in rule.get("from", [])
                if "podSelector" in peer and "namespaceSelector" not in peer
            ]
        for what, selector in selectors:
            if not any(_matches(selector, labels) for labels in pods):
                problems.append(f"NetworkPolicy/{name}: {what} {selector} selects no pod")
    return problems


# ------------------------------------------------------------------------------ settings


def settings_env_names() -> frozenset[str]:
    """The environment variables `CoreSettings` reads: its aliases, else prefix + field."""
    prefix = str(CoreSettings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in CoreSettings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {str(choice).upper() for choice in alias.choices}
        else:
            names.add(f"{prefix}{field_name}".upper())
    return frozenset(names)


def container_env(docs: list[Doc], container: Doc) -> dict[str, Doc]:
    """A container's variables by name (envFrom ConfigMaps resolved), each as its env entry."""
    config_maps = named(docs, "ConfigMap")
    env: dict[str, Doc] = {}
    for source in container.get("envFrom", []):
        data = config_maps.get(source.get("configMapRef", {}).get("name", ""), {}).get("data", {})
        env |= {key: {"name": key, "value": value} for key, value in data.items()}
    env |= {entry["name"]: entry for entry in container.get("env", [])}
    return env


def env_problems(docs: list[Doc]) -> list[str]:
    """Every variable set is a setting the code reads (or libpq's PGPASSWORD); the ones the
    deployment depends on are set; secrets only from Secrets; no password in a URL; the
    database URLs go to the CloudNativePG pooler (servers) or primary (migrations)."""
    known = settings_env_names() | LIBPQ_ENV
    poolers = {n for n, p in named(docs, "Pooler").items() if p["spec"]["type"] == "rw"}
    primaries = {f"{n}-rw" for n in named(docs, "Cluster")}
    problems = []
    for workload in workloads(docs):
        required = REQUIRED_ENV if workload["kind"] == "Deployment" else REQUIRED_JOB_ENV
        for container in containers(workload):
            at = f"{workload['kind']}/{workload['metadata']['name']}"
            env = container_env(docs, container)
            problems += [f"{at}: sets {n}, which no setting reads" for n in env if n not in known]
            problems += [f"{at}: does not set {n}" for n in sorted(required - env.keys())]
            for name, entry in env.items():
                problems += _value_problems(at, name, entry, poolers, primaries)
            if env.get("INNOCREDIT_DB_POOLER", {}).get("value") != "transaction":
                problems.append(f"{at}: INNOCREDIT_DB_POOLER is not transaction (PgBouncer)")
    return problems


def _value_problems(
    at: str, name: str, entry: Doc, poolers: set[str], primaries: set[str]
) -> list[str]:
    if name in SECRET_ENV:
        has_ref = "secretKeyRef" in (entry.get("valueFrom") or {})
        return [] if has_ref else [f"{at}: {name} is not from a Secret (secretKeyRef)"]
    value = str(entry.get("value", ""))
    if "://" not in value:
        return []
    url = urlsplit(value)
    if url.password is not None:
        return [f"{at}: {name} carries a password in the manifest"]
    expected = {"DATABASE_URL": poolers, "INNOCREDIT_MIGRATION_DATABASE_URL": primaries}
    if name in expected and url.hostname not in expected[name]:
        return [f"{at}: {name} goes to {url.hostname}, not to {sorted(expected[name])}"]
    return []


def secret_problems(docs: list[Doc]) -> list[str]:
    """No Secret is rendered (they are created in the cluster, deploy/README.md step 2), and
    the pods read the database password from the Secret the Cluster is bootstrapped with."""
    problems = [f"Secret/{n}: a Secret is in the manifests" for n in named(docs, "Secret")]
    bootstrap = {
        c["spec"]["bootstrap"]["initdb"]["secret"]["name"] for c in named(docs, "Cluster").values()
    }
    for workload in workloads(docs):
        for container in containers(workload):
            entry = container_env(docs, container).get("PGPASSWORD", {})
            ref = ((entry.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref is not None and ref not in bootstrap:
                problems.append(
                    f"{workload['kind']}/{workload['metadata']['name']}: PGPASSWORD from "
                    f"Secret {ref}, but the Cluster's owner password is in {sorted(bootstrap)}"
                )
    return problems


def database_problems(docs: list[Doc]) -> list[str]:
    """The Pooler is PgBouncer in transaction mode in front of a Cluster's primary; backups
    name a Cluster; synchronous replication asks for fewer replicas than exist."""
    clusters = named(docs, "Cluster")
    problems = []
    for name, pooler in named(docs, "Pooler").items():
        spec = pooler["spec"]
        if spec["cluster"]["name"] not in clusters:
            problems.append(f"Pooler/{name}: fronts no Cluster ({spec['cluster']['name']})")
        if spec["type"] != "rw" or spec["pgbouncer"].get("poolMode") != "transaction":
            problems.append(f"Pooler/{name}: not type rw in transaction mode")
    for name, backup in named(docs, "ScheduledBackup").items():
        if backup["spec"]["cluster"]["name"] not in clusters:
            problems.append(f"ScheduledBackup/{name}: backs up no Cluster")
        if "backup" not in clusters.get(backup["spec"]["cluster"]["name"], {}).get("spec", {}):
            problems.append(f"ScheduledBackup/{name}: its Cluster has no backup section")
    for name, cluster in clusters.items():
        number = cluster["spec"].get("postgresql", {}).get("synchronous", {}).get("number", 0)
        if number >= cluster["spec"]["instances"]:
            problems.append(
                f"Cluster/{name}: {number} synchronous replica(s) of "
                f"{cluster['spec']['instances']} instance(s)"
            )
    return problems
