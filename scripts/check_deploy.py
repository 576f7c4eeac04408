#!/usr/bin/env python3
"""Static checks for the deploy files under deploy/.

    python3 scripts/check_deploy.py [--root REPO]

Checks, one line each:
  * every YAML file under deploy/ parses (yaml.safe_load_all);
  * every AGENTCORE_* variable that deploy/docker-compose.yml, deploy/k8s/*.yaml,
    deploy/Dockerfile and deploy/.env.example set or mention is read by the Swift
    sources (names matched by AGENTCORE_[A-Z0-9_]+ in Sources/**/*.swift; a
    matched name ending in "_", such as AGENTCORE_KAFKA_, admits its whole
    family, e.g. any AGENTCORE_KAFKA_*);
  * every variable the sources read is documented in .env.example, each with a
    comment line;
  * compose and Kubernetes use the same topic prefix (and consumer group) and
    reference only the agentcore topics <prefix>.{commands,context-writes,status,
    heartbeats,dlq,changelog};
  * the scaling and shutdown rules: workers <= partitions, grace periods longer
    than AGENTCORE_SHUTDOWN_TIMEOUT_MS, worker ids, KEDA target and trigger, PDB
    selector, kustomization resources;
  * stateless workers (stores are caches of <prefix>.changelog): every worker has
    a data volume of its own - each compose worker its own volume at
    AGENTCORE_DATA_DIR, each pod an emptyDir, generic ephemeral volume or
    volumeClaimTemplate there - with no shared ReadWriteMany claim, no
    PersistentVolumeClaim mounted by every pod, and no podAffinity (or nodeName)
    pinning the workers together; a podAntiAffinity among workers is only
    preferred (soft);
  * HTTP (docs/http-api.md): every worker listens on all interfaces
    (AGENTCORE_HTTP_ADDR) - in compose each publishes that port on a host port
    of its own; in Kubernetes the container port is named `http`, the liveness
    probe (and a startup probe, if any) is GET /healthz and the readiness probe
    GET /readyz on it, prometheus.io/* annotations (if any) agree with it, a
    Service exposes it, and the ServiceMonitor scrapes /metrics on that
    Service's `http` port;
  * the Grafana dashboards under deploy/grafana/ parse, use the ${DS_PROMETHEUS}
    data source, and their PromQL (panel targets and template variables) names
    only the worker's metrics (METRICS below, plus _bucket/_sum/_count of the
    histograms) and only labels those metrics carry (plus `le` and the labels
    Prometheus adds when scraping); docs/http-api.md lists exactly METRICS.

Ends with the line "N passed, M failed"; exits 1 if anything failed.
Needs PyYAML (pip install pyyaml).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a failed check
    yaml = None

NAME_RE = re.compile(r"AGENTCORE_[A-Z0-9_]+")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}
INTERP_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
ENV_LINE_RE = re.compile(r"^\s*(#\s*)?(AGENTCORE_[A-Z0-9_]+)=(.*)$")

# Topic suffixes `agentcore topics create` makes under AGENTCORE_TOPIC_PREFIX.
TOPIC_SUFFIXES = ("commands", "context-writes", "status", "heartbeats", "dlq", "changelog")
# The worker's Prometheus metrics (GET /metrics, docs/http-api.md): name -> (type, labels).
METRICS = {
    "agentcore_records_applied_total": ("counter", ("partition", "type")),
    "agentcore_commands_rejected_total": ("counter", ("partition", "code")),
    "agentcore_dead_letters_total": ("counter", ("partition", "reason")),
    "agentcore_batch_apply_seconds": ("histogram", ("partition",)),
    "agentcore_publish_round_seconds": ("histogram", ()),
    "agentcore_events_published_total": ("counter", ()),
    "agentcore_changelog_records_total": ("counter", ("partition",)),
    "agentcore_changelog_bytes_total": ("counter", ("partition",)),
    "agentcore_outbox_depth": ("gauge", ("partition",)),
    "agentcore_consumer_lag": ("gauge", ("partition", "topic")),
    "agentcore_rebalances_total": ("counter", ("kind",)),
    "agentcore_input_refetches_total": ("counter", ()),
    "agentcore_partitions": ("gauge", ("state",)),
    "agentcore_store_bytes": ("gauge", ("partition",)),
    "agentcore_restore_rows": ("gauge", ("partition",)),
    "agentcore_restore_target_rows": ("gauge", ("partition",)),
    "agentcore_consumer_paused": ("gauge", ()),
    "agentcore_loop_last_progress_seconds": ("gauge", ()),
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Labels Prometheus (and the Prometheus Operator) attach to every scraped series.
SCRAPE_LABELS = {"instance", "job", "pod", "namespace", "service", "container", "endpoint"}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                   "bool", "offset", "inf", "nan"}
HTTP_PORT_NAME = "http"
# Defaults of the worker when a variable is not set.
CODE_DEFAULTS = {
    "AGENTCORE_GROUP": "agentcore",
    "AGENTCORE_TOPIC_PREFIX": "agentcore",
    "AGENTCORE_PARTITIONS": "12",
    "AGENTCORE_DATA_DIR": "./data",
    "AGENTCORE_SHUTDOWN_TIMEOUT_MS": "30000",
}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS  {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}" + (f": {detail}" if detail else ""))
        return ok


# ---------------------------------------------------------------------------
# Helpers


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def source_names(root: Path) -> tuple[set[str], set[str]]:
    """Names the Swift sources mention: (exact names, family prefixes ending in '_')."""
    names: set[str] = set()
    for swift in sorted((root / "Sources").rglob("*.swift")):
        names.update(NAME_RE.findall(swift.read_text(encoding="utf-8", errors="replace")))
    families = {n for n in names if n.endswith("_")}
    return names - families, families


def is_read(name: str, exact: set[str], families: set[str]) -> bool:
    if name in exact or name in families:
        return True
    return any(name.startswith(f) and len(name) > len(f) for f in families)


def interpolate(value: object, defaults: dict[str, str]) -> str:
    """Resolve compose ${...} interpolation as compose would with no .env file."""
    if value is None:
        return ""
    text = str(value)

    def sub(m: re.Match) -> str:
        var, op, arg = m.group(1), m.group(2), m.group(3)
        if op in (":-", "-"):
            return arg
        return defaults.get(var, "")

    return INTERP_RE.sub(sub, text)


def env_mapping(environment: object) -> dict[str, object]:
    """compose `environment:` as a dict (it may be a mapping or a KEY=VALUE list)."""
    if isinstance(environment, dict):
        return dict(environment)
    out: dict[str, object] = {}
    if isinstance(environment, list):
        for item in environment:
            key, _, val = str(item).partition("=")
            out[key] = val if "=" in str(item) else None
    return out


def command_list(command: object) -> list[str]:
    if command is None:
        return []
    if isinstance(command, list):
        return [str(c) for c in command]
    return str(command).split()


def topic_args(args: list[str]) -> list[str]:
    out = []
    for i, a in enumerate(args):
        if a == "--topic" and i + 1 < len(args):
            out.append(args[i + 1])
        elif a.startswith("--topic="):
            out.append(a.split("=", 1)[1])
    return out


def full_topic(name: str, prefix: str) -> str:
    return name if "." in name else f"{prefix}.{name}"


def duration_seconds(value: object) -> float | None:
    """Compose duration ('45s', '1m30s', '500ms', 30) in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[u] for n, u in parts)


def as_int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def fmt(names) -> str:
    return ", ".join(sorted(names)) if names else "(none)"


def listen_port(addr: object) -> int | None:
    """Port of a host:port listen address that accepts connections from other hosts
    (not loopback); None otherwise."""
    m = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*):(\d+)", str(addr or "").strip())
    if not m or m.group(1) in ("127.0.0.1", "localhost", "[::1]"):
        return None
    return int(m.group(2))


def published_ports(ports: object) -> dict[int, str]:
    """compose `ports:` as {container port: host port} (short and long syntax)."""
    out: dict[int, str] = {}
    for entry in ports or []:
        if isinstance(entry, dict):
            target, host = entry.get("target"), entry.get("published")
        else:
            bits = str(entry).split("/")[0].rsplit(":", 2)
            target, host = bits[-1], (bits[-2] if len(bits) >= 2 else "")
        if as_int(target) is not None:
            out[as_int(target)] = str(host or "")
    return out


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression uses. Function names (an
    identifier before "("), keywords, strings, ranges and Grafana $variables are
    not metric names; labels come from {matchers} and by/without/on/ignoring/
    group_left/group_right clauses."""
    labels: set[str] = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    for body in re.findall(r"\{([^}]*)\}", text):
        labels.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)

    def grouping(m: re.Match) -> str:
        labels.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)))
        return " "

    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", grouping, text)
    text = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", " ", text)
    names = set()
    for m in re.finditer(r"(?<![A-Za-z0-9_.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1).lower() not in PROMQL_KEYWORDS:
            names.add(m.group(1))
    return names, labels


def variable_query_names(query: object) -> tuple[set[str], set[str]]:
    """(metric names, label names) of a Grafana Prometheus template variable query:
    label_values(metric, label), label_values(label), query_result(expr), metrics(re)."""
    if isinstance(query, dict):
        query = query.get("query", "")
    text = str(query or "").strip()
    m = re.fullmatch(r"label_values\(\s*(?:(.+?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)", text)
    if m:
        names, labels = promql_names(m.group(1)) if m.group(1) else (set(), set())
        return names, labels | {m.group(2)}
    m = re.fullmatch(r"query_result\((.*)\)", text, re.S)
    if m:
        return promql_names(m.group(1))
    if text.startswith("metrics(") or text.startswith("label_names("):
        return set(), set()
    return promql_names(text)


def metric_base(name: str) -> str | None:
    """The METRICS entry a series name belongs to (histogram series included)."""
    if name in METRICS:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and METRICS.get(base, ("",))[0] == "histogram":
            return base
    return None


def dashboard_panels(panels: list) -> list[dict]:
    """Every panel, including those nested in (collapsed) rows."""
    out = []
    for panel in panels or []:
        if isinstance(panel, dict):
            out.append(panel)
            out.extend(dashboard_panels(panel.get("panels") or []))
    return out


# ---------------------------------------------------------------------------
# Inputs


def parse_env_example(path: Path) -> tuple[list[tuple[int, str, str, bool]], list[str]]:
    """(entries, lines): entries are (line number, name, value, commented_out)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = []
    for no, line in enumerate(lines, 1):
        m = ENV_LINE_RE.match(line)
        if m:
            entries.append((no, m.group(2), m.group(3).strip(), bool(m.group(1))))
    return entries, lines


def load_yaml_files(root: Path, report: Report) -> dict[Path, list]:
    docs: dict[Path, list] = {}
    files = sorted(p for p in (root / "deploy").rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not report.check(bool(files), "deploy/ contains YAML files", "none found"):
        return docs
    for path in files:
        try:
            with path.open(encoding="utf-8") as fh:
                loaded = [d for d in yaml.safe_load_all(fh) if d is not None]
            docs[path] = loaded
            report.check(True, f"{rel(path, root)} parses ({len(loaded)} document(s))")
        except yaml.YAMLError as exc:
            report.check(False, f"{rel(path, root)} parses", str(exc).replace("\n", " "))
    return docs


# ---------------------------------------------------------------------------
# Checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repository root (default: parent of scripts/)")
    root = parser.parse_args().root.resolve()
    report = Report()

    if not report.check(yaml is not None, "PyYAML is importable", "pip install pyyaml"):
        return finish(report)

    deploy = root / "deploy"
    compose_path = deploy / "docker-compose.yml"
    env_path = deploy / ".env.example"
    dockerfile = deploy / "Dockerfile"
    k8s_dir = deploy / "k8s"

    # -- Swift sources -------------------------------------------------------
    exact, families = source_names(root)
    report.check(bool(exact), "Swift sources read AGENTCORE_* variables",
                 f"no AGENTCORE_* names in {rel(root / 'Sources', root)}/**/*.swift")
    print(f"      sources read: {fmt(exact)}; families: {fmt(f + '*' for f in families)}")

    def unread(names) -> set[str]:
        return {n for n in names if not is_read(n, exact, families)}

    # -- YAML parsing ----------------------------------------------------------
    docs = load_yaml_files(root, report)

    # -- .env.example ----------------------------------------------------------
    env_values: dict[str, str] = {}
    env_names: set[str] = set()
    if report.check(env_path.is_file(), "deploy/.env.example exists"):
        entries, lines = parse_env_example(env_path)
        env_names = {name for _, name, _, _ in entries}
        bad = unread(env_names)
        report.check(not bad, ".env.example: every variable is read by the sources", fmt(bad))
        undocumented = []
        for no, name, _, _ in entries:
            prev = lines[no - 2].strip() if no >= 2 else ""
            if not (prev.startswith("#") and not ENV_LINE_RE.match(prev)):
                undocumented.append(f"{name} (line {no})")
        report.check(not undocumented, ".env.example: every variable has a comment line above it",
                     ", ".join(undocumented))
        missing = {n for n in exact if n not in env_names and not any(n.startswith(f) for f in families)}
        missing |= {f for f in families if not any(n.startswith(f) for n in env_names)}
        report.check(not missing, ".env.example: documents every variable the sources read", fmt(missing))
        active = [name for _, name, _, commented in entries if not commented]
        dupes = {n for n in active if active.count(n) > 1}
        report.check(not dupes, ".env.example: no variable is set twice", fmt(dupes))
        env_values = {name: value for _, name, value, commented in entries if not commented}

    # -- Dockerfile -------------------------------------------------------------
    if report.check(dockerfile.is_file(), "deploy/Dockerfile exists"):
        text = dockerfile.read_text(encoding="utf-8")
        bad = unread(NAME_RE.findall(text))
        report.check(not bad, "Dockerfile: every AGENTCORE_* name is read by the sources", fmt(bad))
        report.check(bool(re.search(r'^ENTRYPOINT\s+\["agentcore"\]', text, re.M))
                     and bool(re.search(r'^CMD\s+\["worker"\]', text, re.M)),
                     'Dockerfile: ENTRYPOINT ["agentcore"], CMD ["worker"]')
        report.check(bool(re.search(r"^USER\s+(?!root\b|0\b)\S+", text, re.M)), "Dockerfile: runs as a non-root USER")

    # -- Mentions anywhere in deploy/ (comments and README too) ----------------
    mentioned: dict[str, set[str]] = {}
    for path in sorted(p for p in deploy.rglob("*") if p.is_file()):
        for name in NAME_RE.findall(path.read_text(encoding="utf-8", errors="replace")):
            mentioned.setdefault(name, set()).add(rel(path, root))
    bad = unread(mentioned)
    report.check(not bad, "deploy/: every AGENTCORE_* name mentioned (incl. comments, README) is read by the sources",
                 "; ".join(f"{n} in {fmt(mentioned[n])}" for n in sorted(bad)))

    # -- Compose -----------------------------------------------------------------
    compose_prefixes: set[str] = set()
    compose_groups: set[str] = set()
    compose_topics: set[str] = set()
    compose = (docs.get(compose_path) or [None])[0]
    if report.check(isinstance(compose, dict) and isinstance(compose.get("services"), dict),
                    "docker-compose.yml has services"):
        services: dict = compose["services"]
        set_names: set[str] = set()
        interp_names: set[str] = set()
        mismatched_defaults = []
        for svc in services.values():
            for key, val in env_mapping(svc.get("environment")).items():
                if key.startswith("AGENTCORE_"):
                    set_names.add(key)
                for m in INTERP_RE.finditer(str(val) if val is not None else ""):
                    var, op, arg = m.groups()
                    if var.startswith("AGENTCORE_"):
                        interp_names.add(var)
                        if op in (":-", "-") and var in env_values and env_values[var] != arg:
                            mismatched_defaults.append(f"{var}: compose {arg!r} vs .env.example {env_values[var]!r}")
        bad = unread(set_names | interp_names)
        report.check(not bad, "compose: every AGENTCORE_* variable set or interpolated is read by the sources", fmt(bad))
        report.check(not mismatched_defaults, "compose: ${VAR:-default} defaults match .env.example",
                     "; ".join(sorted(set(mismatched_defaults))))

        def resolved(svc: dict) -> dict[str, str]:
            env = {k: interpolate(v, env_values) for k, v in env_mapping(svc.get("environment")).items()}
            for k, v in CODE_DEFAULTS.items():
                env.setdefault(k, v)
            return env

        agentcore_svcs = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("agentcore")
                          or "agentcore" in str((s.get("build") or {}).get("dockerfile", ""))}
        report.check(bool(agentcore_svcs), "compose: has agentcore services")
        workers = {n: s for n, s in agentcore_svcs.items()
                   if (command_list(s.get("command")) or ["worker"])[0] == "worker"}
        report.check(len(workers) >= 2, "compose: at least two worker services", fmt(workers))
        for name, svc in agentcore_svcs.items():
            env = resolved(svc)
            compose_prefixes.add(env["AGENTCORE_TOPIC_PREFIX"])
            if name in workers:
                compose_groups.add(env["AGENTCORE_GROUP"])
            for t in topic_args(command_list(svc.get("command"))):
                compose_topics.add(full_topic(t, env["AGENTCORE_TOPIC_PREFIX"]))
        report.check(len(compose_prefixes) == 1, "compose: all agentcore services use one topic prefix",
                     fmt(compose_prefixes))

        topics_svc = [n for n, s in agentcore_svcs.items() if command_list(s.get("command"))[:2] == ["topics", "create"]]
        if report.check(len(topics_svc) == 1, "compose: one `agentcore topics create` service", fmt(topics_svc)):
            dep = services[topics_svc[0]].get("depends_on") or {}
            kafka_ok = isinstance(dep, dict) and any(
                isinstance(v, dict) and v.get("condition") == "service_healthy" for v in dep.values())
            report.check(kafka_ok, "compose: topic creation waits for a healthy Kafka (service_healthy)")
            late = [n for n, s in workers.items()
                    if ((s.get("depends_on") or {}).get(topics_svc[0]) or {}).get("condition")
                    != "service_completed_successfully"]
            report.check(not late, "compose: workers wait for topic creation (service_completed_successfully)", fmt(late))

        ids = [resolved(s).get("AGENTCORE_WORKER_ID") for s in workers.values()]
        report.check(all(ids) and len(set(ids)) == len(ids), "compose: workers have distinct AGENTCORE_WORKER_ID",
                     ", ".join(map(str, ids)))

        mounts = {}
        for name, svc in workers.items():
            data_dir = resolved(svc)["AGENTCORE_DATA_DIR"]
            src = None
            for vol in svc.get("volumes") or []:
                if isinstance(vol, str):
                    bits = vol.split(":")
                    if len(bits) >= 2 and bits[1] == data_dir:
                        src = bits[0]
                elif isinstance(vol, dict) and vol.get("target") == data_dir:
                    src = vol.get("source")
            mounts[name] = src
        # Stateless workers: each one restores its partitions' stores from the changelog,
        # so every worker has a data volume of its own (none shared, none missing).
        sources = [m for m in mounts.values() if m is not None]
        own = None not in mounts.values() and len(set(sources)) == len(sources)
        report.check(own, "compose: each worker has a data volume of its own at AGENTCORE_DATA_DIR (none shared)",
                     ", ".join(f"{n}={m}" for n, m in mounts.items()))
        declared = compose.get("volumes") or {}
        undeclared = [m for m in sources if m not in declared]
        report.check(not undeclared, "compose: every worker data volume is a declared named volume", fmt(undeclared))

        for name, svc in workers.items():
            env = resolved(svc)
            timeout_ms = as_int(env["AGENTCORE_SHUTDOWN_TIMEOUT_MS"])
            grace = duration_seconds(svc.get("stop_grace_period", "10s"))
            report.check(timeout_ms is not None and grace is not None and grace * 1000 > timeout_ms,
                         f"compose: {name} stop_grace_period exceeds AGENTCORE_SHUTDOWN_TIMEOUT_MS",
                         f"{svc.get('stop_grace_period', '10s (default)')} vs {timeout_ms} ms")
        partitions = {as_int(resolved(s)["AGENTCORE_PARTITIONS"]) for s in agentcore_svcs.values()}
        report.check(len(partitions) == 1 and None not in partitions and len(workers) <= min(partitions),
                     "compose: workers <= AGENTCORE_PARTITIONS", f"{len(workers)} workers, partitions {partitions}")

        # HTTP: each worker listens on all interfaces and publishes that port on a host port of its own.
        addrs = {n: resolved(s).get("AGENTCORE_HTTP_ADDR") for n, s in workers.items()}
        bad = [f"{n}={a}" for n, a in addrs.items() if listen_port(a) is None]
        report.check(not bad, "compose: every worker sets AGENTCORE_HTTP_ADDR to host:port on all interfaces "
                     "(e.g. 0.0.0.0:8080)", ", ".join(bad))
        host_ports = {n: published_ports(s.get("ports")).get(listen_port(addrs[n]) or -1) for n, s in workers.items()}
        unpublished = [n for n, h in host_ports.items() if not h]
        report.check(not unpublished, "compose: every worker publishes its HTTP port", fmt(unpublished))
        published = [h for h in host_ports.values() if h]
        report.check(len(set(published)) == len(published), "compose: workers publish HTTP on distinct host ports",
                     ", ".join(f"{n}={h}" for n, h in host_ports.items()))

    # -- Kubernetes --------------------------------------------------------------
    k8s_prefixes: set[str] = set()
    k8s_groups: set[str] = set()
    k8s_topics: set[str] = set()
    k8s_docs = [(p, d) for p, ds in docs.items() if p.parent == k8s_dir for d in ds if isinstance(d, dict)]
    by_kind: dict[str, list[tuple[Path, dict]]] = {}
    for p, d in k8s_docs:
        by_kind.setdefault(str(d.get("kind")), []).append((p, d))
    if report.check(bool(k8s_docs), "deploy/k8s has manifests"):
        configmaps = {d["metadata"]["name"]: (d.get("data") or {}) for _, d in by_kind.get("ConfigMap", [])}
        workloads = [(p, d) for kind in ("StatefulSet", "Deployment", "Job") for p, d in by_kind.get(kind, [])]

        def pod_spec(d: dict) -> dict:
            return ((d.get("spec") or {}).get("template") or {}).get("spec") or {}

        def containers(d: dict) -> list[dict]:
            return pod_spec(d).get("containers") or []

        def container_env(d: dict) -> dict[str, str]:
            """Effective AGENTCORE_* env of the first container: ConfigMaps, then env."""
            env: dict[str, str] = {}
            for c in containers(d)[:1]:
                for ref in c.get("envFrom") or []:
                    name = (ref.get("configMapRef") or {}).get("name")
                    if name in configmaps:
                        env.update({k: str(v) for k, v in configmaps[name].items()})
                for e in c.get("env") or []:
                    env[e["name"]] = str(e.get("value", "<valueFrom>"))
            for k, v in CODE_DEFAULTS.items():
                env.setdefault(k, v)
            return env

        set_names = {k for data in configmaps.values() for k in data if k.startswith("AGENTCORE_")}
        missing_refs = []
        for p, d in workloads:
            for c in containers(d):
                set_names |= {e["name"] for e in c.get("env") or [] if e.get("name", "").startswith("AGENTCORE_")}
                for ref in c.get("envFrom") or []:
                    cm = ref.get("configMapRef")
                    if cm and cm.get("name") not in configmaps and not cm.get("optional"):
                        missing_refs.append(f"{d['metadata']['name']} -> {cm.get('name')}")
        bad = unread(set_names)
        report.check(not bad, "k8s: every AGENTCORE_* variable set is read by the sources", fmt(bad))
        report.check(not missing_refs, "k8s: every envFrom ConfigMap is defined", ", ".join(missing_refs))

        for p, d in workloads:
            env = container_env(d)
            k8s_prefixes.add(env["AGENTCORE_TOPIC_PREFIX"])
            for c in containers(d):
                for t in topic_args([str(a) for a in (c.get("command") or []) + (c.get("args") or [])]):
                    k8s_topics.add(full_topic(t, env["AGENTCORE_TOPIC_PREFIX"]))
        report.check(len(k8s_prefixes) == 1, "k8s: all workloads use one topic prefix", fmt(k8s_prefixes))
        prefix = next(iter(k8s_prefixes)) if len(k8s_prefixes) == 1 else "agentcore"

        jobs = [d for _, d in by_kind.get("Job", [])
                if any(([*(c.get("command") or []), *(c.get("args") or [])])[-2:] == ["topics", "create"]
                       for c in containers(d))]
        report.check(len(jobs) == 1, "k8s: a Job runs `agentcore topics create`")

        sts_list = [d for _, d in by_kind.get("StatefulSet", [])]
        if report.check(len(sts_list) == 1, "k8s: one worker StatefulSet"):
            sts = sts_list[0]
            env = container_env(sts)
            k8s_groups.add(env["AGENTCORE_GROUP"])
            c0 = containers(sts)[0] if containers(sts) else {}
            args = [*(c0.get("command") or []), *(c0.get("args") or [])]
            report.check(args[-1:] == ["worker"] or not args, "k8s: StatefulSet runs `agentcore worker`", str(args))
            wid = [e for e in c0.get("env") or [] if e.get("name") == "AGENTCORE_WORKER_ID"]
            report.check(bool(wid) and ((wid[0].get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                         == "metadata.name", "k8s: AGENTCORE_WORKER_ID comes from metadata.name")
            grace = pod_spec(sts).get("terminationGracePeriodSeconds", 30)
            timeout_ms = as_int(env["AGENTCORE_SHUTDOWN_TIMEOUT_MS"])
            report.check(timeout_ms is not None and isinstance(grace, int) and grace * 1000 > timeout_ms,
                         "k8s: terminationGracePeriodSeconds exceeds AGENTCORE_SHUTDOWN_TIMEOUT_MS",
                         f"{grace} s vs {timeout_ms} ms")
            res = c0.get("resources") or {}
            report.check(bool(res.get("requests")) and bool(res.get("limits")), "k8s: worker has resource requests and limits")
            # Stateless workers: each pod's stores are its own cache of the changelog.
            data_dir = env["AGENTCORE_DATA_DIR"]
            mount = [m for m in c0.get("volumeMounts") or [] if m.get("mountPath") == data_dir]
            vols = {v["name"]: v for v in pod_spec(sts).get("volumes") or []}
            templates = {t["metadata"]["name"]: t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []}
            vol_ok = False
            if mount:
                vname = mount[0]["name"]
                if vname in vols and vname in templates:
                    detail = f"{vname!r} is both a pod volume and a volumeClaimTemplate"
                elif vname in vols:
                    kind = next((k for k in vols[vname] if k != "name"), None)
                    vol_ok = kind in ("emptyDir", "ephemeral")
                    detail = f"volume {vname!r} is {kind}" + ("" if vol_ok else " (shared or node-bound, not per pod)")
                elif vname in templates:
                    vol_ok = True  # one claim per pod, whatever its access mode
                    detail = f"volumeClaimTemplate {vname!r}"
                else:
                    detail = f"volume {vname!r} is not defined"
            else:
                detail = f"nothing mounted at {data_dir}"
            report.check(vol_ok, "k8s: AGENTCORE_DATA_DIR is a per-pod volume (emptyDir, ephemeral or a "
                         "volumeClaimTemplate)", detail)
            shared_claims = [f"{v['name']} -> {v['persistentVolumeClaim'].get('claimName')}"
                             for v in vols.values() if "persistentVolumeClaim" in v]
            report.check(not shared_claims, "k8s: worker pods mount no PersistentVolumeClaim shared by every pod",
                         ", ".join(shared_claims))
            rwx = [d["metadata"]["name"] for _, d in by_kind.get("PersistentVolumeClaim", [])
                   if "ReadWriteMany" in ((d.get("spec") or {}).get("accessModes") or [])]
            report.check(not rwx, "k8s: no shared ReadWriteMany data claim", fmt(rwx))

            pod_labels = ((sts["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}

            def selects_workers(term: dict) -> bool:
                sel = term.get("labelSelector")
                if not isinstance(sel, dict):
                    return False  # a null selector selects no pod
                labels = sel.get("matchLabels") or {}
                exprs = sel.get("matchExpressions") or []
                if any(pod_labels.get(k) != v for k, v in labels.items()):
                    return False
                for e in exprs:
                    op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
                    if op == "In" and pod_labels.get(key) not in values:
                        return False
                    if op == "NotIn" and pod_labels.get(key) in values:
                        return False
                    if op == "Exists" and key not in pod_labels:
                        return False
                    if op == "DoesNotExist" and key in pod_labels:
                        return False
                return True

            affinity = pod_spec(sts).get("affinity") or {}
            pa = affinity.get("podAffinity") or {}
            pinning = [t for t in pa.get("requiredDuringSchedulingIgnoredDuringExecution") or [] if selects_workers(t)]
            pinning += [w.get("podAffinityTerm") or {} for w in pa.get("preferredDuringSchedulingIgnoredDuringExecution") or []
                        if selects_workers(w.get("podAffinityTerm") or {})]
            report.check(not pinning and not pod_spec(sts).get("nodeName"),
                         "k8s: no podAffinity among the workers (or nodeName) draws them onto one node",
                         f"{len(pinning)} podAffinity term(s) select the worker pods"
                         + (f", nodeName {pod_spec(sts).get('nodeName')}" if pod_spec(sts).get("nodeName") else ""))
            anti = (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
            hard = [t.get("topologyKey") for t in anti if selects_workers(t)]
            report.check(not hard, "k8s: podAntiAffinity among workers, if any, is preferred (a required one caps "
                         "replicas at the node count)", f"required on {fmt(hard)}")

            pdbs = [d for _, d in by_kind.get("PodDisruptionBudget", [])]
            ok = len(pdbs) == 1
            if ok:
                spec = pdbs[0].get("spec") or {}
                sel = (spec.get("selector") or {}).get("matchLabels") or {}
                ok = spec.get("maxUnavailable") == 1 and bool(sel) and all(pod_labels.get(k) == v for k, v in sel.items())
            report.check(ok, "k8s: PodDisruptionBudget maxUnavailable 1 selects the worker pods")

            partitions = as_int(env["AGENTCORE_PARTITIONS"])
            scaled = [d for _, d in by_kind.get("ScaledObject", [])]
            if report.check(len(scaled) == 1, "k8s: one KEDA ScaledObject"):
                so = scaled[0].get("spec") or {}
                ref = so.get("scaleTargetRef") or {}
                report.check(ref.get("kind") == "StatefulSet" and ref.get("name") == sts["metadata"]["name"],
                             "k8s: ScaledObject targets the worker StatefulSet", str(ref))
                lo, hi = so.get("minReplicaCount"), so.get("maxReplicaCount")
                report.check(isinstance(lo, int) and isinstance(hi, int) and partitions is not None
                             and 1 <= lo <= hi <= partitions,
                             "k8s: 1 <= minReplicaCount <= maxReplicaCount <= AGENTCORE_PARTITIONS",
                             f"min {lo}, max {hi}, partitions {partitions}")
                kafka = [t for t in so.get("triggers") or [] if t.get("type") == "kafka"]
                if report.check(bool(kafka), "k8s: ScaledObject has a kafka trigger"):
                    for t in kafka:
                        md = t.get("metadata") or {}
                        k8s_topics.add(str(md.get("topic")))
                        k8s_groups.add(str(md.get("consumerGroup")))
                        report.check(md.get("topic") == f"{prefix}.commands",
                                     "k8s: kafka trigger watches <prefix>.commands", f"{md.get('topic')}")
                        report.check(md.get("consumerGroup") == env["AGENTCORE_GROUP"],
                                     "k8s: kafka trigger consumerGroup == AGENTCORE_GROUP",
                                     f"{md.get('consumerGroup')} vs {env['AGENTCORE_GROUP']}")
                        report.check(md.get("bootstrapServers") == env.get("AGENTCORE_BROKERS"),
                                     "k8s: kafka trigger bootstrapServers == AGENTCORE_BROKERS",
                                     f"{md.get('bootstrapServers')} vs {env.get('AGENTCORE_BROKERS')}")
                        report.check("lagThreshold" in md, "k8s: kafka trigger sets lagThreshold")
                        nonstr = [k for k, v in md.items() if not isinstance(v, str)]
                        report.check(not nonstr, "k8s: kafka trigger metadata values are strings", fmt(nonstr))

            # HTTP: port `http`, probes, scrape annotations, Service and ServiceMonitor.
            http_addr = env.get("AGENTCORE_HTTP_ADDR")
            http_port = listen_port(http_addr)
            report.check(http_port is not None, "k8s: AGENTCORE_HTTP_ADDR is host:port on all interfaces "
                         "(e.g. 0.0.0.0:8080)", str(http_addr))
            named = {p.get("name"): p.get("containerPort") for p in c0.get("ports") or []}
            report.check(http_port is not None and named.get(HTTP_PORT_NAME) == http_port,
                         f"k8s: worker container port `{HTTP_PORT_NAME}` is AGENTCORE_HTTP_ADDR's port",
                         f"ports {named}, AGENTCORE_HTTP_ADDR {http_addr}")

            def probe_at(probe: object, path: str) -> bool:
                get = (probe or {}).get("httpGet") if isinstance(probe, dict) else None
                return isinstance(get, dict) and get.get("path") == path and (
                    get.get("port") == HTTP_PORT_NAME or (http_port is not None and get.get("port") == http_port))

            def probe_text(probe: object) -> str:
                get = (probe or {}).get("httpGet") if isinstance(probe, dict) else None
                return f"{get.get('path')} on port {get.get('port')}" if isinstance(get, dict) else "no httpGet probe"

            report.check(probe_at(c0.get("livenessProbe"), "/healthz"),
                         f"k8s: livenessProbe is GET /healthz on port {HTTP_PORT_NAME}", probe_text(c0.get("livenessProbe")))
            report.check(probe_at(c0.get("readinessProbe"), "/readyz"),
                         f"k8s: readinessProbe is GET /readyz on port {HTTP_PORT_NAME}", probe_text(c0.get("readinessProbe")))
            report.check("startupProbe" not in c0 or probe_at(c0.get("startupProbe"), "/healthz"),
                         "k8s: startupProbe, if any, is GET /healthz (restores, which fail /readyz, can take minutes)",
                         probe_text(c0.get("startupProbe")))
            annotations = ((sts["spec"].get("template") or {}).get("metadata") or {}).get("annotations") or {}
            scrape = {k: str(v) for k, v in annotations.items() if k.startswith("prometheus.io/")}
            report.check(not scrape or (scrape.get("prometheus.io/port") == str(http_port)
                                        and scrape.get("prometheus.io/path", "/metrics") == "/metrics"),
                         "k8s: prometheus.io/* pod annotations, if any, point at /metrics on the HTTP port", str(scrape))

            services = [d for _, d in by_kind.get("Service", [])
                        if ((d.get("spec") or {}).get("selector") or {})
                        and all(pod_labels.get(k) == v for k, v in d["spec"]["selector"].items())]
            svc_port = None
            for svc in services:
                for port in (svc.get("spec") or {}).get("ports") or []:
                    if port.get("name") == HTTP_PORT_NAME and port.get("targetPort") in (HTTP_PORT_NAME, http_port):
                        svc_port = (svc, port)
            report.check(svc_port is not None, f"k8s: a Service selecting the workers exposes port `{HTTP_PORT_NAME}` "
                         "(targetPort: the container port)", f"{len(services)} Service(s) select the worker pods")

            monitors = [d for _, d in by_kind.get("ServiceMonitor", [])]
            if report.check(len(monitors) == 1, "k8s: one ServiceMonitor"):
                sm = monitors[0]
                spec = sm.get("spec") or {}
                report.check(str(sm.get("apiVersion")) == "monitoring.coreos.com/v1",
                             "k8s: ServiceMonitor apiVersion is monitoring.coreos.com/v1", str(sm.get("apiVersion")))
                sel = (spec.get("selector") or {}).get("matchLabels") or {}
                svc_labels = ((svc_port[0] if svc_port else {}).get("metadata") or {}).get("labels") or {}
                report.check(bool(sel) and all(svc_labels.get(k) == v for k, v in sel.items()),
                             "k8s: ServiceMonitor selector matches the workers' Service", f"{sel} vs {svc_labels}")
                endpoints = spec.get("endpoints") or []
                ok = [e for e in endpoints if e.get("port") == HTTP_PORT_NAME and e.get("path", "/metrics") == "/metrics"]
                report.check(bool(ok), f"k8s: ServiceMonitor scrapes /metrics on port `{HTTP_PORT_NAME}`",
                             ", ".join(f"{e.get('path', '/metrics')} on {e.get('port') or e.get('targetPort')}"
                                       for e in endpoints) or "no endpoints")

        kust = k8s_dir / "kustomization.yaml"
        if report.check(kust.is_file() and bool(docs.get(kust)), "k8s: kustomization.yaml exists"):
            listed = set((docs[kust][0] or {}).get("resources") or [])
            present = {p.name for p in k8s_dir.glob("*.y*ml") if p.name != "kustomization.yaml"}
            report.check(listed == present, "k8s: kustomization.yaml lists every manifest in deploy/k8s",
                         f"unlisted {fmt(present - listed)}; missing files {fmt(listed - present)}")

    # -- Grafana dashboards: only the worker's metrics -------------------------------
    dashboards = sorted((deploy / "grafana").glob("*.json"))
    if report.check(bool(dashboards), "deploy/grafana has a dashboard"):
        for path in dashboards:
            name = rel(path, root)
            try:
                dash = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                report.check(False, f"{name} parses", str(exc))
                continue
            panels = dashboard_panels(dash.get("panels"))
            report.check(isinstance(dash.get("schemaVersion"), int) and bool(panels),
                         f"{name} parses (schemaVersion {dash.get('schemaVersion')}, {len(panels)} panels)")
            variables = (dash.get("templating") or {}).get("list") or []
            inputs = {i.get("name") for i in dash.get("__inputs") or []}
            ds_var = any(v.get("name") == "DS_PROMETHEUS" and v.get("type") == "datasource" for v in variables)
            report.check(ds_var or "DS_PROMETHEUS" in inputs,
                         f"{name}: DS_PROMETHEUS is a data source variable or import input")
            exprs: list[tuple[str, str]] = []
            wrong_ds = []
            for panel in panels:
                for item in [panel, *(panel.get("targets") or [])]:
                    ds = item.get("datasource")
                    if ds is not None and (ds.get("uid") if isinstance(ds, dict) else ds) != "${DS_PROMETHEUS}":
                        wrong_ds.append(f"panel {panel.get('id')} ({panel.get('title')})")
                for t in panel.get("targets") or []:
                    exprs.append((f"panel {panel.get('id')} ({panel.get('title')}) {t.get('refId')}", str(t.get("expr", ""))))
            report.check(not wrong_ds, f"{name}: every panel and query uses the ${{DS_PROMETHEUS}} data source",
                         fmt(set(wrong_ds)))
            empty = [where for where, e in exprs if not e.strip()]
            report.check(bool(exprs) and not empty, f"{name}: every panel query has a PromQL expression", fmt(empty))
            queries = [(where, *promql_names(e)) for where, e in exprs]
            queries += [(f"variable {v.get('name')}", *variable_query_names(v.get("query")))
                        for v in variables if v.get("type") == "query"]
            unknown, bad_labels, used = [], [], set()
            for where, names, labels in queries:
                bases = {n: metric_base(n) for n in names}
                unknown += [f"{n} ({where})" for n, b in bases.items() if b is None]
                used |= {b for b in bases.values() if b}
                allowed = set(SCRAPE_LABELS)
                for n, b in bases.items():
                    if b:
                        allowed |= set(METRICS[b][1]) | ({"le"} if n.endswith("_bucket") else set())
                bad_labels += [f"{lbl} ({where})" for lbl in labels - allowed]
            report.check(not unknown, f"{name}: every metric in the queries is one the worker exports "
                         "(docs/http-api.md; histograms with _bucket/_sum/_count)", "; ".join(sorted(set(unknown))))
            report.check(not bad_labels, f"{name}: queries use only labels their metrics carry (plus le and "
                         f"{', '.join(sorted(SCRAPE_LABELS))})", "; ".join(sorted(set(bad_labels))))
            print(f"      {name}: {len(exprs)} queries over {len(used)} metrics; not shown: {fmt(set(METRICS) - used)}")

    # -- docs/http-api.md lists the same metrics ---------------------------------------
    api_doc = root / "docs" / "http-api.md"
    if report.check(api_doc.is_file(), "docs/http-api.md exists"):
        rows = re.findall(r"^\|\s*`(agentcore_[a-z0-9_]+)`\s*\|\s*(\w+)\s*\|([^|]*)\|",
                          api_doc.read_text(encoding="utf-8"), re.M)
        documented = {n: (t, tuple(re.findall(r"`([a-z_]+)`", lbl))) for n, t, lbl in rows}
        diff = [f"{n}: doc {documented.get(n)} vs {METRICS.get(n)}" for n in sorted(set(documented) | set(METRICS))
                if documented.get(n) != METRICS.get(n)]
        report.check(not diff, "docs/http-api.md: the metrics table lists METRICS (names, types, labels)", "; ".join(diff))

    # -- Compose vs Kubernetes: topic prefix and topic names -----------------------
    env_prefix = env_values.get("AGENTCORE_TOPIC_PREFIX", CODE_DEFAULTS["AGENTCORE_TOPIC_PREFIX"])
    prefixes = compose_prefixes | k8s_prefixes | {env_prefix}
    report.check(len(prefixes) == 1 and bool(compose_prefixes) and bool(k8s_prefixes),
                 "compose, k8s and .env.example use the same topic prefix",
                 f"compose {fmt(compose_prefixes)}, k8s {fmt(k8s_prefixes)}, .env.example {env_prefix}")
    prefix = next(iter(prefixes)) if len(prefixes) == 1 else env_prefix
    known = {f"{prefix}.{s}" for s in TOPIC_SUFFIXES}
    unknown = (compose_topics | k8s_topics) - known
    report.check(not unknown, f"every topic compose and k8s reference is one of {prefix}.{{{','.join(TOPIC_SUFFIXES)}}}",
                 f"unknown {fmt(unknown)}")
    print(f"      topics referenced: compose {fmt(compose_topics)}; k8s {fmt(k8s_topics)}")
    env_group = env_values.get("AGENTCORE_GROUP", CODE_DEFAULTS["AGENTCORE_GROUP"])
    groups = compose_groups | k8s_groups | {env_group}
    report.check(len(groups) == 1, "compose, k8s and .env.example use the same consumer group", fmt(groups))

    return finish(report)


def finish(report: Report) -> int:
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
