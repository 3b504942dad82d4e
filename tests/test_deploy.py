"""deploy/: the container image definition and the Kubernetes manifests, checked offline.

No Docker engine or Kubernetes cluster runs here: the Dockerfile is parsed and its structure
checked; each overlay of deploy/k8s/ is rendered with `kubectl kustomize` and checked by
tests/k8s_checks.py (schemas of Kubernetes 1.32 and of the vendored CloudNativePG CRDs, then
what a schema misses). Every check is also shown catching a broken manifest.
"""

from __future__ import annotations

import copy
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests import k8s_checks as checks
from tests.k8s_checks import ROOT, Doc

OVERLAYS = ("dev", "production")
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|cc|make|cargo|rustc|python3?-dev)\b")


@cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    """An overlay's documents and its migration Job's, rendered once."""
    base = checks.K8S / "overlays" / overlay
    return (*checks.render(base), *checks.render(base / "migrate"))


def docs(overlay: str) -> list[Doc]:
    """A private copy of an overlay's documents, to check or to break."""
    return copy.deepcopy(list(rendered(overlay)))


ALL_CHECKS: dict[str, Callable[[list[Doc]], list[str]]] = {
    "schema": checks.schema_problems,
    "pods": checks.pod_problems,
    "commands": lambda d: checks.command_problems(d, SCRIPTS),
    "services": checks.service_problems,
    "scaling": checks.scaling_problems,
    "network policies": checks.network_policy_problems,
    "env": checks.env_problems,
    "secrets": checks.secret_problems,
    "database": checks.database_problems,
}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", ALL_CHECKS)
def test_overlay_passes(overlay: str, check: str) -> None:
    assert ALL_CHECKS[check](docs(overlay)) == []


def test_overlays_declare_what_the_issue_asks() -> None:
    production = docs("production")
    kinds = {d["kind"] for d in production}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "NetworkPolicy", "Job"} <= kinds
    assert {"Cluster", "Pooler", "ScheduledBackup"} <= kinds
    deployments = checks.named(production, "Deployment")
    assert set(deployments) == {
        f"innocredit-{c}" for c in ("gateway", "scoring", "loans", "guarantee", "worker")
    }
    assert set(checks.least_replicas(production).values()) == {2}
    assert {
        p["spec"]["minAvailable"] for p in checks.named(production, "PodDisruptionBudget").values()
    } == {1}
    (cluster,) = checks.named(production, "Cluster").values()
    assert cluster["spec"]["instances"] == 3
    dev = docs("dev")
    assert set(checks.least_replicas(dev).values()) == {1}
    assert [c["spec"]["instances"] for c in checks.named(dev, "Cluster").values()] == [1]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_proxies_to_the_services_and_they_fetch_its_keys(overlay: str) -> None:
    found = docs(overlay)
    services = checks.named(found, "Service")
    deployments = checks.named(found, "Deployment")
    (gateway,) = checks.containers(deployments["innocredit-gateway"])
    env = checks.container_env(found, gateway)
    for name in ("scoring", "loans", "guarantee"):
        assert env[f"INNOCREDIT_{name.upper()}_URL"]["value"] == f"http://innocredit-{name}:8000"
        assert f"innocredit-{name}" in services
        (service,) = checks.containers(deployments[f"innocredit-{name}"])
        jwks = checks.container_env(found, service)["INNOCREDIT_JWKS_URL"]["value"]
        assert jwks == "http://innocredit-gateway:8000/.well-known/jwks.json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_worker_reaches_public_addresses_only(overlay: str) -> None:
    found = docs(overlay)
    (worker,) = checks.containers(checks.named(found, "Deployment")["innocredit-worker"])
    assert worker["command"][:2] == ["innocredit", "worker"]
    policy = checks.named(found, "NetworkPolicy")["innocredit-worker-egress"]
    assert policy["spec"]["policyTypes"] == ["Egress"]
    (public,) = [r for r in policy["spec"]["egress"] if "ipBlock" in r["to"][0]]
    block = public["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
        block["except"]
    )
    pooler = checks.named(found, "NetworkPolicy")["innocredit-db-pooler"]
    admitted = pooler["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]
    assert "worker" in admitted["values"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_runs_the_deployed_image_in_the_same_namespace(overlay: str) -> None:
    found = docs(overlay)
    images = {c["image"] for w in checks.workloads(found) for c in checks.containers(w)}
    namespaces = {d["metadata"]["namespace"] for d in found if d["kind"] != "Namespace"}
    assert len(images) == 1, images
    assert len(namespaces) == 1, namespaces
    (job,) = checks.named(found, "Job").values()
    assert checks.containers(job)[0]["command"] == ["innocredit", "db", "upgrade"]


def test_settings_env_names_follow_core_settings() -> None:
    names = checks.settings_env_names()
    assert {"DATABASE_URL", "INNOCREDIT_DB_POOLER", "INNOCREDIT_KEY_ENCRYPTION_KEY"} <= names
    assert "INNOCREDIT_DATABASE_URL" not in names  # DATABASE_URL is an alias, not prefixed


# ------------------------------------------------------------------ each check can fail


def _deployment(found: list[Doc], component: str = "gateway") -> Doc:
    return checks.named(found, "Deployment")[f"innocredit-{component}"]


def _container(found: list[Doc], component: str = "gateway") -> Doc:
    return checks.containers(_deployment(found, component))[0]


def _env(found: list[Doc], name: str, component: str = "gateway") -> Doc:
    entries: list[Doc] = _container(found, component)["env"]
    return next(e for e in entries if e["name"] == name)


def _cnpg(found: list[Doc], kind: str) -> Doc:
    (doc,) = checks.named(found, kind).values()
    return doc


def _job_env(found: list[Doc]) -> list[Doc]:
    env: list[Doc] = checks.containers(_cnpg(found, "Job"))[0]["env"]
    return env


Breakage = Callable[[list[Doc]], Any]
BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "unknown Deployment field": ("schema", lambda d: _deployment(d)["spec"].update(replica=2)),
    "Pooler mode misspelt": (
        "schema",
        lambda d: _cnpg(d, "Pooler")["spec"]["pgbouncer"].update(poolMode="transactions"),
    ),
    "unknown Cluster field": ("schema", lambda d: _cnpg(d, "Cluster")["spec"].update(replicas=3)),
    "no liveness probe": ("pods", lambda d: _container(d).pop("livenessProbe")),
    "readiness on /healthz": (
        "pods",
        lambda d: _container(d, "loans")["readinessProbe"]["httpGet"].update(path="/healthz"),
    ),
    "no memory limit": ("pods", lambda d: _container(d)["resources"]["limits"].pop("memory")),
    "writable root": (
        "pods",
        lambda d: _container(d)["securityContext"].update(readOnlyRootFilesystem=False),
    ),
    "capabilities kept": ("pods", lambda d: _container(d)["securityContext"].pop("capabilities")),
    "may run as root": (
        "pods",
        lambda d: _deployment(d)["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
    ),
    "unknown factory": (
        "commands",
        lambda d: _container(d)["command"].__setitem__(1, "services.runtime:gateway"),
    ),
    "Service selects nothing": (
        "services",
        lambda d: checks.named(d, "Service")["innocredit-loans"]["spec"]["selector"].update(
            {"app.kubernetes.io/component": "loan"}
        ),
    ),
    "PDB blocks drains": (
        "scaling",
        lambda d: checks.named(d, "PodDisruptionBudget")["innocredit-loans"]["spec"].update(
            minAvailable=2
        ),
    ),
    "HPA targets nothing": (
        "scaling",
        lambda d: checks.named(d, "HorizontalPodAutoscaler")["innocredit-scoring"]["spec"][
            "scaleTargetRef"
        ].update(name="innocredit-score"),
    ),
    "policy selects nothing": (
        "network policies",
        lambda d: checks.named(d, "NetworkPolicy")["innocredit-db"]["spec"]["podSelector"][
            "matchLabels"
        ].update({"cnpg.io/cluster": "innocredit-pg"}),
    ),
    "misspelt setting": (
        "env",
        lambda d: _env(d, "INNOCREDIT_SCORING_URL").update(name="INNOCREDIT_SCORE_URL"),
    ),
    "DATABASE_URL missing": (
        "env",
        lambda d: _container(d)["env"].remove(_env(d, "DATABASE_URL")),
    ),
    "migration URL missing": (
        "env",
        lambda d: _job_env(d).remove(
            next(e for e in _job_env(d) if e["name"] == "INNOCREDIT_MIGRATION_DATABASE_URL")
        ),
    ),
    "DATABASE_URL past the pooler": (
        "env",
        lambda d: _env(d, "DATABASE_URL").update(
            value="postgresql://innocredit@innocredit-db-rw:5432/innocredit"
        ),
    ),
    "key inlined": (
        "env",
        lambda d: _env(d, "INNOCREDIT_KEY_ENCRYPTION_KEY").update(value="x" * 44, valueFrom=None),
    ),
    "password in a URL": (
        "env",
        lambda d: _env(d, "DATABASE_URL").update(
            value="postgresql://innocredit:hunter2@innocredit-db-pooler-rw:5432/innocredit"
        ),
    ),
    "a Secret rendered": (
        "secrets",
        lambda d: d.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys"}}),
    ),
    "password from another Secret": (
        "secrets",
        lambda d: _env(d, "PGPASSWORD")["valueFrom"]["secretKeyRef"].update(name="db-app"),
    ),
    "pooler in session mode": (
        "database",
        lambda d: _cnpg(d, "Pooler")["spec"]["pgbouncer"].update(poolMode="session"),
    ),
    "more sync replicas than exist": (
        "database",
        lambda d: _cnpg(d, "Cluster")["spec"].update(instances=1),
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_each_check_catches_a_broken_manifest(breakage: str) -> None:
    check, breaks = BREAKAGES[breakage]
    found = docs("production")
    breaks(found)
    assert ALL_CHECKS[check](found) != []


# ------------------------------------------------------------------ the image definition


@dataclass
class Stage:
    """One `FROM` of a Dockerfile and the instructions under it."""

    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages (continuation lines joined, comments dropped)."""
    logical = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(image, name))
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def image_problems(text: str) -> list[str]:
    """What deploy/Dockerfile must hold: multi-stage, a slim final stage without compilers,
    a non-root numeric USER, the `innocredit` entry point, COPY sources that exist, no
    HEALTHCHECK (Kubernetes probes)."""
    _, stages = parse_dockerfile(text)
    problems = []
    if len(stages) < 2:
        problems.append("not multi-stage")
    final = stages[-1]
    if "slim" not in final.image:
        problems.append(f"final stage on {final.image}, not a slim image")
    for run in final.all("RUN"):
        if COMPILERS.search(run) or "apt-get install" in run:
            problems.append(f"final stage installs packages or compilers: {run}")
    users = final.all("USER")
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        problems.append(f"final USER is {users[-1:]}, not a numeric non-root uid")
    entry = [shlex.split(e.strip("[]").replace(",", " ")) for e in final.all("ENTRYPOINT")]
    if not entry or entry[-1][:1] != list(SCRIPTS)[:1]:
        problems.append(f"ENTRYPOINT {entry} is not the {sorted(SCRIPTS)} script")
    names = {s.name for s in stages}
    for stage in stages:
        if stage.all("HEALTHCHECK"):
            problems.append("a HEALTHCHECK (Kubernetes probes /healthz and /readyz)")
        for copy_args in stage.all("COPY"):
            words = copy_args.split()
            flags = [w for w in words if w.startswith("--")]
            sources = [w for w in words if not w.startswith("--")][:-1]
            source_stage = next(
                (f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None
            )
            if source_stage is not None:
                if source_stage not in names:
                    problems.append(f"COPY --from={source_stage}: no such stage")
                continue
            problems += [
                f"COPY {s}: not in the repository" for s in sources if not (ROOT / s).exists()
            ]
    return problems


def test_the_image_definition_holds() -> None:
    assert image_problems(DOCKERFILE.read_text()) == []
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    copied = {w for c in stages[0].all("COPY") for w in c.split()[:-1]}
    assert {"constraints.txt", "pyproject.toml"} <= copied  # the pinned install


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("USER 10001:10001", "USER root"),
        ("USER 10001:10001", "USER 0"),
        (
            "FROM ${PYTHON_IMAGE} AS runtime",
            "FROM ${PYTHON_IMAGE} AS runtime\nRUN apt-get install -y gcc",
        ),
        ("COPY shared ./shared", "COPY shard ./shared"),
        ('ENTRYPOINT ["innocredit"]', 'ENTRYPOINT ["innocredit-server"]'),
        ("COPY --from=build", "COPY --from=builder"),
        ("EXPOSE 8000", "EXPOSE 8000\nHEALTHCHECK CMD curl -f localhost:8000/healthz"),
    ],
)
def test_the_image_check_catches_a_broken_definition(old: str, new: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    assert image_problems(text.replace(old, new)) != []


def test_the_vendored_crds_say_where_they_come_from() -> None:
    readme = (checks.CNPG_CRDS / "README.md").read_text()
    assert "Apache-2.0" in readme
    assert "v1.30.0" in readme
    for kind in checks.CNPG_KINDS.values():
        assert Path(checks.CNPG_CRDS / f"postgresql.cnpg.io_{kind}.yaml").is_file()
