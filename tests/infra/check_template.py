"""Consistency checks of infra/template.yaml that the linters do not make.

Run with the SAM CLI's own Python (.tools/sam-*/bin/python: it has the SAM translator
and PyYAML), from the repository root:

    python tests/infra/check_template.py [infra/template.yaml]

1. Every `${Name}` in a state machine's ASL file has a DefinitionSubstitutions entry and
   every entry is used.
2. Every function is built by cargo-lambda from the workspace: BuildMethod
   rust-cargolambda, a BuildProperties.Binary that is a binary of the crate
   functions/<Binary>/ (its Cargo.toml), and that crate a member of the workspace.
3. Every function logs to a log group of the template with a retention.
4. A function given DTG_SECRETS_ARN may read the secret, one given DTG_WS_ENDPOINT may
   post to the WebSocket API's connections, and the other way round.
5. After the SAM transform, no two resources depend on each other (CloudFormation
   refuses circular dependencies; cfn-lint misses those that go through an API body).

Exits 1 with one line per finding.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import sys
import tomllib
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
findings: list[str] = []


def finding(text: str) -> None:
    findings.append(text)


def resources_of(template: dict, kind: str) -> dict[str, dict]:
    return {
        name: res
        for name, res in template.get("Resources", {}).items()
        if res.get("Type") == kind
    }


def check_substitutions(template: dict, base: Path) -> None:
    for name, res in resources_of(template, "AWS::Serverless::StateMachine").items():
        props = res.get("Properties", {})
        uri = props.get("DefinitionUri")
        if not isinstance(uri, str):
            finding(f"{name}: DefinitionUri is not a local file")
            continue
        path = (base / uri).resolve()
        if not path.is_file():
            finding(f"{name}: {uri} does not exist ({path})")
            continue
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            finding(f"{name}: {uri} is not JSON: {e}")
        used = set(re.findall(r"\$\{([^}]*)\}", text))
        given = set((props.get("DefinitionSubstitutions") or {}).keys())
        for missing in sorted(used - given):
            finding(f"{name}: {uri} uses ${{{missing}}} but DefinitionSubstitutions has no {missing}")
        for unused in sorted(given - used):
            finding(f"{name}: DefinitionSubstitutions.{unused} is not used in {uri}")


def workspace_members() -> list[str]:
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    return list(manifest.get("workspace", {}).get("members", []))


def binaries_of(crate: Path) -> set[str]:
    manifest = tomllib.loads((crate / "Cargo.toml").read_text(encoding="utf-8"))
    bins = {b.get("name") for b in manifest.get("bin", [])}
    package = manifest.get("package", {}).get("name")
    autobins = manifest.get("package", {}).get("autobins", True)
    if package and autobins and (crate / "src" / "main.rs").is_file():
        bins.add(package)
    if autobins and (crate / "src" / "bin").is_dir():
        for entry in (crate / "src" / "bin").iterdir():
            if entry.suffix == ".rs":
                bins.add(entry.stem)
            elif (entry / "main.rs").is_file():
                bins.add(entry.name)
    return {b for b in bins if b}


def check_functions(template: dict) -> None:
    globals_fn = template.get("Globals", {}).get("Function", {})
    members = workspace_members()
    log_groups = resources_of(template, "AWS::Logs::LogGroup")
    missing_crates = []
    for name, res in resources_of(template, "AWS::Serverless::Function").items():
        meta = res.get("Metadata", {})
        props = res.get("Properties", {})
        if meta.get("BuildMethod") != "rust-cargolambda":
            finding(f"{name}: Metadata.BuildMethod is not rust-cargolambda")
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        if not binary:
            finding(f"{name}: no Metadata.BuildProperties.Binary")
        else:
            crate = ROOT / "functions" / binary
            if not (crate / "Cargo.toml").is_file():
                missing_crates.append(binary)
                finding(f"{name}: functions/{binary}/Cargo.toml does not exist")
            else:
                if binary not in binaries_of(crate):
                    finding(f"{name}: functions/{binary} has no binary named {binary}")
                rel = f"functions/{binary}"
                if not any(fnmatch.fnmatch(rel, m.rstrip("/")) for m in members):
                    finding(f"{name}: {rel} is not a member of the workspace (Cargo.toml)")
        code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
        if code_uri not in ("../", ".."):
            finding(f"{name}: CodeUri is {code_uri!r}, not the workspace root ../")
        for key, want in (("Runtime", "provided.al2023"), ("Handler", "bootstrap")):
            if props.get(key, globals_fn.get(key)) != want:
                finding(f"{name}: {key} is not {want}")
        if props.get("Architectures", globals_fn.get("Architectures")) != ["arm64"]:
            finding(f"{name}: Architectures is not [arm64]")

        group = (props.get("LoggingConfig") or {}).get("LogGroup")
        target = group.get("Ref") if isinstance(group, dict) else None
        if target not in log_groups:
            finding(f"{name}: LoggingConfig.LogGroup is not a !Ref to a log group of the template")
        elif "RetentionInDays" not in log_groups[target].get("Properties", {}):
            finding(f"{name}: its log group {target} has no RetentionInDays")

        env = dict((globals_fn.get("Environment") or {}).get("Variables") or {})
        env.update((props.get("Environment") or {}).get("Variables") or {})
        policies = props.get("Policies") or []
        text = json.dumps(policies)
        reads_secret = any(
            isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p for p in policies
        )
        if ("DTG_SECRETS_ARN" in env) != reads_secret:
            finding(f"{name}: DTG_SECRETS_ARN and AWSSecretsManagerGetSecretValuePolicy must come together")
        posts = "execute-api:ManageConnections" in text
        if ("DTG_WS_ENDPOINT" in env) != posts:
            finding(f"{name}: DTG_WS_ENDPOINT and execute-api:ManageConnections must come together")
    if missing_crates:
        print(
            "note: function crates missing: " + ", ".join(f"functions/{b}" for b in missing_crates),
            file=sys.stderr,
        )


def local_to_s3(template: dict) -> dict:
    """The template as `sam package` would leave it (local paths become S3 URIs)."""
    t = copy.deepcopy(template)
    g = t.get("Globals", {}).get("Function", {})
    if isinstance(g.get("CodeUri"), str):
        g["CodeUri"] = "s3://bucket/code.zip"
    for res in t.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://bucket/code.zip"
        if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            props["DefinitionUri"] = "s3://bucket/definition.json"
    return t


def references(node, names: set[str]) -> set[str]:
    """Resources a (translated) property tree refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                if target in names:
                    found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    for var in re.findall(r"\$\{([^}!]*)\}", text):
                        head = var.split(".")[0]
                        if head in names:
                            found.add(head)
                if isinstance(value, list) and len(value) > 1:
                    found |= references(value[1], names)
            else:
                found |= references(value, names)
    elif isinstance(node, list):
        for item in node:
            found |= references(item, names)
    return found


def check_cycles(template: dict) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    try:
        out = transform(local_to_s3(template), {}, NoManagedPolicies())
    except Exception as e:  # the translator's own errors list every problem
        finding(f"SAM transform failed: {e}")
        return
    resources = out.get("Resources", {})
    names = set(resources)
    graph: dict[str, set[str]] = {}
    for name, res in resources.items():
        deps = references(res.get("Properties", {}), names)
        depends_on = res.get("DependsOn", [])
        deps |= set([depends_on] if isinstance(depends_on, str) else depends_on)
        graph[name] = deps - {name}
    # Tarjan's strongly connected components: each one larger than a resource is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                finding("circular dependency: " + ", ".join(sorted(component)))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "infra" / "template.yaml")
    template = yaml_parse(path.read_text(encoding="utf-8"))
    check_substitutions(template, path.parent)
    check_functions(template)
    check_cycles(template)
    for f in findings:
        print(f"{path}: {f}")
    if findings:
        return 1
    print(f"{path}: substitutions, function crates, log groups, permissions, no cycles: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
