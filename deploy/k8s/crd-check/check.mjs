#!/usr/bin/env node
// Validates the custom resources among rendered Kubernetes objects with the models of
// their APIs, installed from the npm registry (package.json pins them; `make install`
// runs `npm ci` here):
//
//   - @kubernetes-models/cloudnative-pg: postgresql.cnpg.io/v1 (Cluster, ScheduledBackup...)
//   - @kubernetes-models/prometheus-operator: monitoring.coreos.com/v1, v1alpha1, v1beta1
//
// Each object is checked twice:
//   1. `new Model(object).validate()`: the model's compiled JSON Schema (types, required
//      fields, enums, formats). It lets unknown fields through.
//   2. TypeScript (`tsc --noEmit`) on the object written as a literal of the model's
//      interface (`const o: ICluster = {...}`, each value `as any`): a field the API
//      does not have is an excess property, so a misspelt field fails here.
//
// Usage: node check.mjs [FILE]   FILE (or stdin): JSON, an array of objects or a List.
// Prints `ok Kind/name` per valid custom resource and `ERROR Kind/name path: message`
// per error; exits 1 on any error, 2 when the input can't be read. Objects of other API
// groups are skipped (kubernetes-validate checks those).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// apiVersion -> the module that holds one file per kind of that API version.
const MODELS = {
  "postgresql.cnpg.io/v1": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  "monitoring.coreos.com/v1alpha1":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1",
  "monitoring.coreos.com/v1beta1":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1beta1",
};
const GROUPS = new Set(Object.keys(MODELS).map((v) => v.split("/")[0]));

function readInput(file) {
  const text = fs.readFileSync(file ?? 0, "utf8");
  const data = JSON.parse(text);
  const items = Array.isArray(data) ? data : data?.kind === "List" ? data.items : [data];
  if (!Array.isArray(items)) throw new Error("expected an array of objects or a List");
  return items.filter((o) => o !== null);
}

function nameOf(o) {
  return `${o?.kind ?? "?"}/${o?.metadata?.name ?? "?"}`;
}

async function modelOf(o) {
  const module = MODELS[o.apiVersion];
  if (typeof o.kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(o.kind)) return null;
  try {
    const found = (await import(`${module}/${o.kind}`))[o.kind];
    // A kind, not one of the API's inner types (ClusterSpec has no apiVersion/kind).
    if (found?.kind === o.kind && found?.apiVersion === o.apiVersion) {
      return { model: found, module: `${module}/${o.kind}`, type: `I${o.kind}` };
    }
  } catch (e) {
    if (!["ERR_MODULE_NOT_FOUND", "ERR_PACKAGE_PATH_NOT_EXPORTED"].includes(e.code)) throw e;
  }
  return null;
}

function schemaErrors(model, o) {
  try {
    new model(o).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors.map((err) => {
      const where = err.instancePath.replace(/^\//, "") || "(object)";
      const allowed = err.params?.allowedValues;
      return `${where}: ${err.message}${allowed ? ` (${allowed.join(", ")})` : ""}`;
    });
  }
}

// ---- unknown fields: TypeScript's excess property check -------------------------------

// Writes `value` as a TypeScript literal, one property or element a line, and records
// for each line the path of the field it starts.
function literal(value, at, lines, paths, indent) {
  const pad = "  ".repeat(indent);
  const open = lines.length - 1;
  if (Array.isArray(value) && value.length) {
    lines[open] += "[";
    value.forEach((v, i) => {
      lines.push(pad + "  ");
      paths.push([...at, i]);
      literal(v, [...at, i], lines, paths, indent + 1);
      lines[lines.length - 1] += ",";
    });
    lines.push(pad + "]");
    paths.push(at);
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length) {
      lines[open] += "{}";
      return;
    }
    lines[open] += "{";
    for (const k of keys) {
      lines.push(`${pad}  ${JSON.stringify(k)}: `);
      paths.push([...at, k]);
      literal(value[k], [...at, k], lines, paths, indent + 1);
      lines[lines.length - 1] += ",";
    }
    lines.push(pad + "}");
    paths.push(at);
  } else {
    // A value's type is the schema check's to judge: here each is `any`, so that a wrong
    // type can't hide an unknown field beside it.
    lines[open] += `(${JSON.stringify(value)} as any)`;
  }
}

function typeErrors(checked) {
  if (!checked.length) return new Map();
  const lines = [];
  const owners = []; // per line: [index into checked, path]
  const imports = new Map();
  checked.forEach(({ found }) => imports.set(found.module, found.type));
  for (const [module, type] of imports) {
    lines.push(`import type { ${type} } from ${JSON.stringify(module)};`);
    owners.push(null);
  }
  checked.forEach(({ o, found }, i) => {
    lines.push(`export const o${i}: ${found.type} = `);
    const paths = [[]];
    literal(o, [], lines, paths, 0);
    lines[lines.length - 1] += ";";
    owners.push(...paths.map((p) => [i, p]));
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crd-check-"));
  try {
    fs.symlinkSync(path.join(HERE, "node_modules"), path.join(dir, "node_modules"), "dir");
    fs.writeFileSync(path.join(dir, "objects.mts"), lines.join("\n") + "\n");
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          skipLibCheck: true,
          types: [],
        },
        files: ["objects.mts"],
      }),
    );
    const tsc = path.join(HERE, "node_modules", "typescript", "bin", "tsc");
    const done = spawnSync(process.execPath, [tsc, "-p", dir, "--pretty", "false"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
    });
    if (done.error) throw done.error;
    const errors = new Map();
    let unparsed = [];
    for (const line of done.stdout.split("\n")) {
      const m = /^objects\.mts\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
      if (!m) {
        if (line.trim()) unparsed.push(line);
        continue;
      }
      const owner = owners[Number(m[1]) - 1];
      if (!owner) {
        unparsed.push(line);
        continue;
      }
      const [i, at] = owner;
      const unknown = ["TS2353", "TS2561"].includes(m[2]);
      const message = `${at.join("/") || "(object)"}: ${unknown ? "unknown field: " : ""}${m[3]}`;
      errors.set(i, [...(errors.get(i) ?? []), message]);
    }
    if (done.status !== 0 && !errors.size) unparsed.push(done.stderr);
    if (unparsed.length) throw new Error(`tsc: ${unparsed.join("\n")}`);
    return errors;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main -----------------------------------------------------------------------------

async function main() {
  let objects;
  try {
    objects = readInput(process.argv[2]);
  } catch (e) {
    console.error(`crd-check: can't read the objects: ${e.message}`);
    return 2;
  }
  const errors = [];
  const checked = [];
  for (const o of objects) {
    const group = String(o?.apiVersion ?? "").split("/")[0];
    if (!GROUPS.has(group)) continue;
    const found = MODELS[o.apiVersion] ? await modelOf(o) : null;
    if (!found) {
      errors.push(`ERROR ${nameOf(o)} (object): no model for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    checked.push({ o, found, errors: schemaErrors(found.model, o) });
  }
  const typed = typeErrors(checked);
  checked.forEach(({ o, errors: own }, i) => {
    const all = [...own, ...(typed.get(i) ?? [])];
    if (!all.length) console.log(`ok ${nameOf(o)}`);
    errors.push(...all.map((e) => `ERROR ${nameOf(o)} ${e}`));
  });
  for (const e of errors) console.log(e);
  return errors.length ? 1 : 0;
}

process.exitCode = await main();
