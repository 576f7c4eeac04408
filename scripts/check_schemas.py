#!/usr/bin/env python3
"""Checks the agentcore wire contract under schemas/.

* every *.schema.json is a valid draft 2020-12 schema whose $id is
  https://agentcore.dev/schemas/<path relative to schemas/>, and every $ref in it resolves;
* every example under schemas/examples/commands/valid validates against the command envelope,
  and together they cover every command type;
* every example under schemas/examples/commands/invalid is {"expect": ..., "record": ...} with a
  known dead-letter reason or rejection code, and its record fails the command envelope schema;
* every example under schemas/examples/events validates against the event envelope, and together
  they cover every event type;
* schemas/examples/dead-letter.json and worker-heartbeat.json validate.

Prints one line per file and finally "N passed, M failed"; exits 1 on any failure.
Needs the `jsonschema` package (pip install jsonschema).
"""
import json
import sys
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
except ImportError:  # pragma: no cover
    sys.exit("check_schemas.py needs jsonschema >= 4.18: pip install jsonschema")

BASE = "https://agentcore.dev/schemas/"
ROOT = Path(__file__).resolve().parent.parent / "schemas"
EXAMPLES = ROOT / "examples"

passed = 0
failed = 0


def report(ok, rel, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'PASS' if ok else 'FAIL'} {rel}{': ' + detail if detail else ''}")


def rel(path):
    return path.relative_to(ROOT).as_posix()


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


# ------------------------------------------------------------------ schemas
schema_files = sorted(p for p in ROOT.rglob("*.schema.json") if EXAMPLES not in p.parents)
schemas = {}
for path in schema_files:
    try:
        schemas[rel(path)] = load(path)
    except (OSError, ValueError) as e:
        report(False, rel(path), f"not JSON: {e}")

registry = Registry().with_resources(
    (s.get("$id", BASE + r), Resource.from_contents(s)) for r, s in schemas.items() if isinstance(s, dict))

for r, s in schemas.items():
    problems = []
    if not isinstance(s, dict):
        problems.append("not an object")
    else:
        if s.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problems.append("$schema is not draft 2020-12")
        if s.get("$id") != BASE + r:
            problems.append(f"$id is {s.get('$id')!r}, expected {BASE + r!r}")
        try:
            Draft202012Validator.check_schema(s)
        except Exception as e:  # SchemaError
            problems.append(f"invalid schema: {getattr(e, 'message', e)}")
        resolver = registry.resolver(base_uri=s.get("$id", BASE + r))
        for ref in sorted(set(refs(s))):
            try:
                resolver.lookup(ref)
            except Unresolvable as e:
                problems.append(f"$ref {ref} does not resolve ({e})")
    report(not problems, r, "; ".join(problems))


def validator(name):
    s = schemas.get(name)
    if s is None:
        return None
    return Draft202012Validator(s, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors_of(v, instance):
    return sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))


def describe(errors):
    e = errors[0]
    where = "/".join(str(p) for p in e.absolute_path) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {e.message[:200]}{more}"


command_v = validator("command-envelope.schema.json")
event_v = validator("event-envelope.schema.json")
dead_v = validator("dead-letter.schema.json")
worker_v = validator("worker-heartbeat.schema.json")
for name, v in [("command-envelope", command_v), ("event-envelope", event_v), ("dead-letter", dead_v),
                ("worker-heartbeat", worker_v)]:
    if v is None:
        report(False, f"{name}.schema.json", "missing")
if failed:
    print(f"{passed} passed, {failed} failed")
    sys.exit(1)

command_types = set(schemas["command-envelope.schema.json"]["properties"]["type"]["enum"])
event_types = set(schemas["event-envelope.schema.json"]["properties"]["type"]["enum"])
rejection_codes = set(schemas["events/command.rejected.schema.json"]["properties"]["code"]["enum"])
dead_letter_reasons = set(schemas["dead-letter.schema.json"]["properties"]["reason"]["enum"])


def examples(sub):
    d = EXAMPLES / sub
    return sorted(d.glob("*.json")) if d.is_dir() else []


# ------------------------------------------------------------------ valid commands
seen = set()
for path in examples("commands/valid"):
    try:
        record = load(path)
    except ValueError as e:
        report(False, rel(path), f"not JSON: {e}")
        continue
    errs = errors_of(command_v, record)
    if isinstance(record, dict):
        seen.add(record.get("type"))
    report(not errs, rel(path), describe(errs) if errs else "")
missing = sorted(command_types - seen)
report(not missing, "examples/commands/valid (coverage)", f"no example for {', '.join(missing)}" if missing else "")

# ------------------------------------------------------------------ invalid commands
for path in examples("commands/invalid"):
    try:
        doc = load(path)
    except ValueError as e:
        report(False, rel(path), f"not JSON: {e}")
        continue
    problems = []
    if not isinstance(doc, dict) or set(doc) != {"expect", "record"}:
        problems.append('must be an object with exactly "expect" and "record"')
    else:
        expect = doc["expect"]
        if not isinstance(expect, dict):
            problems.append('"expect" must be an object')
        elif "dead_letter" in expect:
            if set(expect) != {"dead_letter"}:
                problems.append('"expect" with dead_letter takes no other field')
            elif expect["dead_letter"] not in dead_letter_reasons:
                problems.append(f"unknown dead-letter reason {expect['dead_letter']!r}")
        elif "rejected" in expect:
            if set(expect) != {"rejected", "field"}:
                problems.append('"expect" with rejected needs exactly rejected and field')
            elif expect["rejected"] not in rejection_codes:
                problems.append(f"unknown rejection code {expect['rejected']!r}")
            elif not isinstance(expect["field"], str) or not expect["field"]:
                problems.append('"field" must be a non-empty string')
        else:
            problems.append('"expect" needs dead_letter or rejected')
        if not errors_of(command_v, doc["record"]):
            problems.append("record is accepted by command-envelope.schema.json")
    report(not problems, rel(path), "; ".join(problems))

# ------------------------------------------------------------------ events
seen = set()
for path in examples("events"):
    try:
        event = load(path)
    except ValueError as e:
        report(False, rel(path), f"not JSON: {e}")
        continue
    errs = errors_of(event_v, event)
    if isinstance(event, dict):
        seen.add(event.get("type"))
    report(not errs, rel(path), describe(errs) if errs else "")
missing = sorted(event_types - seen)
report(not missing, "examples/events (coverage)", f"no example for {', '.join(missing)}" if missing else "")

# ------------------------------------------------------------------ dead letter, worker heartbeat
for name, v in [("dead-letter.json", dead_v), ("worker-heartbeat.json", worker_v)]:
    path = EXAMPLES / name
    if not path.is_file():
        report(False, rel(path), "missing")
        continue
    try:
        errs = errors_of(v, load(path))
    except ValueError as e:
        report(False, rel(path), f"not JSON: {e}")
        continue
    report(not errs, rel(path), describe(errs) if errs else "")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
