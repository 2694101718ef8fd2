/**
 * The cluster emitters (src/cluster/emit/): the compose file and the Kubernetes manifests parse, use
 * the images of versions.json, share one artifacts path, carry the TaskManager count, slots, restart
 * strategy and web.submit.enable through, publish nothing beyond loopback unless asked, and follow the
 * python flag. The FlinkDeployment is validated against the Flink Kubernetes Operator's own CRD schema,
 * fetched from Maven Central into build/crd/ (never committed); `docker compose config` checks the
 * compose file where the compose plugin exists.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parseDocument } from "yaml";
import { DEFAULT_PORTS } from "../src/cluster/defaults.js";
import { composeFile } from "../src/cluster/emit/compose.js";
import { k8sManifests } from "../src/cluster/emit/k8s.js";
import type { EmitOptions } from "../src/cluster/emit/options.js";
import { SluiceError } from "../src/internal/errors.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** versions.json read directly, so the emitters' own reading of it is under test too. */
const pins = JSON.parse(readFileSync(join(root, "versions.json"), "utf8")) as {
  flink: string;
  flinkJobServer: { beam: string; flink: string };
  pythonSdk: string;
};
const expectedImages = {
  flink: `flink:${pins.flink}-scala_2.12-java17`,
  jobServer: `apache/beam_flink${pins.flinkJobServer.flink}_job_server:${pins.flinkJobServer.beam}`,
  python: `apache/beam_python3.11_sdk:${pins.pythonSdk}`,
  node: "node:20-bookworm-slim",
};

const cases: EmitOptions[] = [
  { taskmanagers: 1, slots: 2, python: true, expose: false },
  { taskmanagers: 3, slots: 4, python: false, expose: false, name: "beam-dev", namespace: "data", artifactsDir: "/var/lib/beam/artifacts" },
  { taskmanagers: 2, slots: 1, python: true, expose: true, name: "shared" },
];
const describeCase = (o: EmitOptions): string =>
  `${o.taskmanagers} TM × ${o.slots} slots, python ${o.python ? "on" : "off"}, expose ${o.expose ? "on" : "off"}${o.artifactsDir ? `, artifacts ${o.artifactsDir}` : ""}`;

type Obj = Record<string, unknown>;
const obj = (value: unknown, what: string): Obj => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${what} is not a map: ${JSON.stringify(value)}`);
  return value as Obj;
};
const list = (value: unknown, what: string): unknown[] => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list: ${JSON.stringify(value)}`);
  return value;
};

/** Parses YAML strictly: any error or warning fails. */
function parseStrict(text: string): Obj {
  const doc = parseDocument(text, { uniqueKeys: true });
  expect(doc.errors.map(String)).toEqual([]);
  expect(doc.warnings.map(String)).toEqual([]);
  return obj(doc.toJS(), "the document");
}

/** FLINK_PROPERTIES lines ("key: value") as a map of strings, failing on duplicates. */
function flinkProperties(text: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(text).split("\n")) {
    const at = line.indexOf(": ");
    expect(at, `FLINK_PROPERTIES line "${line}"`).toBeGreaterThan(0);
    const key = line.slice(0, at);
    expect(out[key], `duplicate FLINK_PROPERTIES key ${key}`).toBeUndefined();
    out[key] = line.slice(at + 2);
  }
  return out;
}

function expectSharedFlinkConfig(config: Record<string, string>, o: EmitOptions): void {
  expect(config["taskmanager.numberOfTaskSlots"]).toBe(String(o.slots));
  expect(config["parallelism.default"]).toBe(String(o.taskmanagers * o.slots));
  expect(config["restart-strategy.type"]).toBe("fixed-delay");
  expect(Number(config["restart-strategy.fixed-delay.attempts"])).toBeGreaterThan(0);
  expect(config["restart-strategy.fixed-delay.delay"]).toMatch(/^\d+\s*(ms|s|min)$/);
  expect(config["web.submit.enable"]).toBe("false");
}

describe("composeFile", () => {
  for (const o of cases) {
    describe(describeCase(o), () => {
      const text = composeFile(o);
      const file = parseStrict(text);
      const services = obj(file["services"], "services");
      const service = (name: string): Obj => obj(services[name], `service ${name}`);
      const names = Object.keys(services);
      const artifactsDir = o.artifactsDir ?? "/artifacts";
      const tmNames = names.filter((n) => /^taskmanager-\d+$/.test(n));

      it("is a modern compose file with a usage header", () => {
        expect(file["version"]).toBeUndefined();
        expect(file["name"]).toBe(o.name ?? "sluice");
        expect(text.startsWith("# ")).toBe(true);
        expect(text).toContain("docker compose");
        expect(text).toContain("--environment_type=EXTERNAL --environment_config=localhost:50001");
        expect(text).toContain("--job_endpoint=localhost:8099");
        // Written from objects: no anchors or aliases to trip up a reader.
        expect(text).not.toMatch(/^\s*-?\s*[&*]\w/m);
      });

      it("uses the images of versions.json", () => {
        for (const name of names) {
          const image = service(name)["image"];
          if (name === "jobmanager" || name.startsWith("taskmanager-")) expect(image, name).toBe(expectedImages.flink);
          else if (name === "jobserver") expect(image, name).toBe(expectedImages.jobServer);
          else if (name.startsWith("python-pool-")) expect(image, name).toBe(expectedImages.python);
          else if (name.startsWith("sluice-pool-")) expect(image, name).toBe(expectedImages.node);
          else throw new Error(`unexpected service ${name}`);
        }
        // Beam requires the Python SDK and the job server to be the same Beam version.
        expect(pins.pythonSdk).toBe(pins.flinkJobServer.beam);
        expect(pins.flink.startsWith(`${pins.flinkJobServer.flink}.`)).toBe(true);
      });

      it("has the TaskManager count, each with its own pools in its network namespace", () => {
        expect(tmNames.sort()).toEqual(Array.from({ length: o.taskmanagers }, (_, i) => `taskmanager-${i + 1}`).sort());
        expect(names.filter((n) => n.startsWith("sluice-pool-"))).toHaveLength(o.taskmanagers);
        expect(names.filter((n) => n.startsWith("python-pool-"))).toHaveLength(o.python ? o.taskmanagers : 0);
        for (const tm of tmNames) {
          const i = tm.slice("taskmanager-".length);
          expect(service(tm)["scale"]).toBeUndefined();
          for (const pool of [`sluice-pool-${i}`, ...(o.python ? [`python-pool-${i}`] : [])]) {
            expect(service(pool)["network_mode"], pool).toBe(`service:${tm}`);
            expect(obj(obj(service(pool)["depends_on"], `${pool} depends_on`)[tm], `${pool} depends_on ${tm}`)["condition"]).toBe("service_started");
          }
        }
      });

      it("configures Flink inline: slots, parallelism, restart strategy, web.submit.enable false", () => {
        for (const name of ["jobmanager", ...tmNames]) {
          const s = service(name);
          expect(s["volumes"] === undefined || !JSON.stringify(s["volumes"]).includes("/opt/flink/conf"), `${name} mounts a conf dir`).toBe(true);
          const config = flinkProperties(obj(s["environment"], `${name} environment`)["FLINK_PROPERTIES"]);
          expectSharedFlinkConfig(config, o);
          expect(config["jobmanager.rpc.address"]).toBe("jobmanager");
          expect(config["jobmanager.rpc.port"]).toBe(String(DEFAULT_PORTS.flinkRpc));
          if (name === "jobmanager") {
            expect(config["rest.port"]).toBe(String(DEFAULT_PORTS.flinkRest));
            expect(config["jobmanager.memory.process.size"]).toMatch(/^\d+m$/);
          } else {
            expect(config["taskmanager.host"]).toBe(name);
            expect(config["taskmanager.memory.process.size"]).toMatch(/^\d+m$/);
            expect(config["taskmanager.rpc.port"]).toBeDefined();
            expect(config["taskmanager.data.port"]).toBeDefined();
          }
        }
      });

      it("mounts the artifacts volume at the same path wherever it is needed", () => {
        expect(obj(file["volumes"], "volumes")).toHaveProperty("artifacts");
        const needing = names.filter((n) => n === "jobserver" || /^(taskmanager|python-pool|sluice-pool)-\d+$/.test(n));
        expect(needing.length).toBe(1 + o.taskmanagers * (o.python ? 3 : 2));
        for (const name of needing) {
          const mounts = list(service(name)["volumes"], `${name} volumes`).map((m) => obj(m, `${name} volume`));
          const artifacts = mounts.filter((m) => m["source"] === "artifacts");
          expect(artifacts, name).toEqual([{ type: "volume", source: "artifacts", target: artifactsDir }]);
        }
        const command = list(service("jobserver")["command"], "jobserver command").map(String);
        expect(command[command.indexOf("--artifacts-dir") + 1]).toBe(artifactsDir);
      });

      it("runs the job server with current flags, after the JobManager is healthy", () => {
        const js = service("jobserver");
        const command = list(js["command"], "jobserver command").map(String);
        const flag = (name: string): string | undefined => {
          const at = command.indexOf(name);
          return at < 0 ? undefined : command[at + 1];
        };
        expect(command).not.toContain("--flink-master-url");
        expect(flag("--flink-master")).toBe(`jobmanager:${DEFAULT_PORTS.flinkRest}`);
        expect(flag("--clean-artifacts-per-job")).toBe("true");
        expect(flag("--job-port")).toBe(String(DEFAULT_PORTS.jobServer));
        expect(flag("--artifact-port")).toBe(String(DEFAULT_PORTS.artifacts));
        expect(flag("--expansion-port")).toBe(String(DEFAULT_PORTS.expansion));
        expect(obj(obj(js["depends_on"], "jobserver depends_on")["jobmanager"], "jobmanager dep")["condition"]).toBe("service_healthy");
        for (const tm of tmNames) {
          expect(obj(obj(service(tm)["depends_on"], `${tm} depends_on`)["jobmanager"], "jobmanager dep")["condition"]).toBe("service_healthy");
        }
        const check = obj(service("jobmanager")["healthcheck"], "jobmanager healthcheck");
        expect(list(check["test"], "healthcheck test").join(" ")).toContain(`:${DEFAULT_PORTS.flinkRest}/`);
      });

      it("runs the worker pools as Beam's and Sluice's worker pool commands", () => {
        for (const name of names.filter((n) => n.startsWith("python-pool-"))) {
          expect(service(name)["command"]).toEqual(["--worker_pool"]);
        }
        for (const name of names.filter((n) => n.startsWith("sluice-pool-"))) {
          const s = service(name);
          expect(s["command"]).toEqual(["node", "bin/sluice.js", "worker-pool", "--host", "127.0.0.1", "--port", String(DEFAULT_PORTS.sluicePool)]);
          const project = list(s["volumes"], `${name} volumes`).map((m) => obj(m, "mount")).find((m) => m["type"] === "bind");
          expect(project).toEqual({ type: "bind", source: root, target: s["working_dir"], read_only: true });
        }
        // What the pool command runs exists in the mounted project.
        expect(existsSync(join(root, "bin", "sluice.js"))).toBe(true);
        expect(existsSync(join(root, "src", "cli", "commands", "worker-pool.ts"))).toBe(true);
      });

      it(`publishes only Flink REST and the job server, ${o.expose ? "on every interface" : "on 127.0.0.1"}`, () => {
        const published: number[] = [];
        for (const name of names) {
          const s = service(name);
          expect(s["network_mode"] === "host", `${name} uses host networking`).toBe(false);
          expect(s["expose"], name).toBeUndefined();
          for (const p of (s["ports"] as unknown[] | undefined) ?? []) {
            // Long syntax only: a short "8081:8081" would bind every interface silently.
            const port = obj(p, `${name} port`);
            published.push(Number(port["published"]));
            expect(port["target"]).toBe(Number(port["published"]));
            if (o.expose) expect(port["host_ip"] === undefined || port["host_ip"] === "0.0.0.0").toBe(true);
            else expect(port["host_ip"], `${name} publishes ${String(port["published"])} beyond loopback`).toBe("127.0.0.1");
          }
        }
        expect(published.sort()).toEqual(
          [DEFAULT_PORTS.flinkRest, DEFAULT_PORTS.jobServer, DEFAULT_PORTS.artifacts, DEFAULT_PORTS.expansion].sort(),
        );
        expect(text.includes("--host 0.0.0.0") || /--host\s*\n\s*- 0\.0\.0\.0/.test(text)).toBe(false);
      });

      it("is accepted by docker compose config (when the compose plugin is installed)", (ctx) => {
        const version = spawnSync("docker", ["compose", "version"], { encoding: "utf8", timeout: 20_000 });
        if (version.status !== 0) ctx.skip("no `docker compose` on this machine");
        const dir = mkdtempSync(join(tmpdir(), "sluice-compose-"));
        try {
          const path = join(dir, "compose.yaml");
          writeFileSync(path, text);
          const r = spawnSync("docker", ["compose", "-f", path, "config", "--quiet"], { encoding: "utf8", timeout: 60_000 });
          expect(r.stderr).toBe("");
          expect(r.status).toBe(0);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

/** The subset of OpenAPI v3 structural schemas a CRD uses. */
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  required?: string[];
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}

/**
 * Checks a value against a CRD schema as the API server does with strict field validation: types,
 * enums, required fields, int-or-string, and unknown fields (which Kubernetes would reject or prune).
 */
function validate(value: unknown, schema: Schema, path: string, errors: string[]): void {
  if (schema["x-kubernetes-int-or-string"]) {
    if (!Number.isInteger(value) && typeof value !== "string") errors.push(`${path}: must be an integer or a string`);
    return;
  }
  if (schema.anyOf && !schema.anyOf.some((s) => validated(value, s, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        errors.push(`${path}: must be an object`);
        return;
      }
      for (const key of schema.required ?? []) if (!(key in value)) errors.push(`${path}.${key}: required`);
      for (const [key, v] of Object.entries(value)) {
        const known = schema.properties?.[key];
        if (known) validate(v, known, `${path}.${key}`, errors);
        else if (typeof schema.additionalProperties === "object") validate(v, schema.additionalProperties, `${path}.${key}`, errors);
        else if (schema.properties && schema.additionalProperties !== true && !schema["x-kubernetes-preserve-unknown-fields"]) {
          errors.push(`${path}.${key}: unknown field`);
        }
      }
      return;
    }
    case "array":
      if (!Array.isArray(value)) errors.push(`${path}: must be an array`);
      else if (schema.items) value.forEach((v, i) => validate(v, schema.items as Schema, `${path}[${i}]`, errors));
      return;
    case "string":
      if (typeof value !== "string") errors.push(`${path}: must be a string, not ${JSON.stringify(value)}`);
      return;
    case "integer":
      if (!Number.isInteger(value)) errors.push(`${path}: must be an integer, not ${JSON.stringify(value)}`);
      return;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) errors.push(`${path}: must be a number, not ${JSON.stringify(value)}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") errors.push(`${path}: must be a boolean, not ${JSON.stringify(value)}`);
      return;
    default:
      return;
  }
}
function validated(value: unknown, schema: Schema, path: string): string[] {
  const errors: string[] = [];
  validate(value, schema, path, errors);
  return errors;
}

/** Checks a whole custom resource against a CRD: group/version/kind, then its spec against the schema. */
function validateResource(resource: Obj, crd: Obj): string[] {
  const crdSpec = obj(crd["spec"], "crd spec");
  const version = list(crdSpec["versions"], "crd versions")
    .map((v) => obj(v, "crd version"))
    .find((v) => `${String(crdSpec["group"])}/${String(v["name"])}` === resource["apiVersion"]);
  if (!version) return [`apiVersion ${String(resource["apiVersion"])} is not served by the CRD`];
  const errors: string[] = [];
  if (resource["kind"] !== obj(crdSpec["names"], "crd names")["kind"]) errors.push(`kind ${String(resource["kind"])} is not the CRD's`);
  for (const key of Object.keys(resource)) if (!["apiVersion", "kind", "metadata", "spec"].includes(key)) errors.push(`${key}: unknown field`);
  const schema = obj(obj(version["schema"], "schema")["openAPIV3Schema"], "openAPIV3Schema") as Schema;
  validate(resource["spec"], schema.properties?.["spec"] ?? {}, "spec", errors);
  return errors;
}

/** The newest operator release on Maven Central reachable here (1.11+ were not found there). */
const OPERATOR_VERSION = "1.10.0";
const CRD_ENTRY = "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml";

/** The operator's FlinkDeployment CRD, from build/crd/ or fetched there with Maven; else why not. */
function operatorCrd(): { crd: Obj } | { why: string } {
  const dir = join(root, "build", "crd");
  const file = join(dir, `flinkdeployments.flink.apache.org-v1-${OPERATOR_VERSION}.yml`);
  if (!existsSync(file)) {
    const jar = join(dir, `flink-kubernetes-operator-api-${OPERATOR_VERSION}.jar`);
    if (!existsSync(jar)) {
      mkdirSync(dir, { recursive: true });
      const mvn = spawnSync(
        "mvn",
        ["-q", "-B", "dependency:copy", `-Dartifact=org.apache.flink:flink-kubernetes-operator-api:${OPERATOR_VERSION}`, `-DoutputDirectory=${dir}`],
        { encoding: "utf8", timeout: 240_000 },
      );
      if (mvn.status !== 0) return { why: `mvn dependency:copy of the operator API jar failed: ${(mvn.error?.message ?? mvn.stdout + mvn.stderr).slice(-400)}` };
    }
    const unzip = spawnSync("unzip", ["-p", jar, CRD_ENTRY], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (unzip.status !== 0 || !unzip.stdout) return { why: `could not extract ${CRD_ENTRY} from ${jar}: ${unzip.error?.message ?? unzip.stderr}` };
    writeFileSync(file, unzip.stdout);
  }
  return { crd: obj(parseDocument(readFileSync(file, "utf8")).toJS(), "the CRD") };
}
let crdCache: { crd: Obj } | { why: string } | undefined;
const loadCrd = (): { crd: Obj } | { why: string } => (crdCache ??= operatorCrd());

/** Parses a multi-document stream strictly: any error or warning fails. */
function manifests(text: string): Obj[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) throw new Error("no YAML documents");
  return docs.map((d) => {
    expect(d.errors.map(String)).toEqual([]);
    expect(d.warnings.map(String)).toEqual([]);
    return obj(d.toJS(), "a manifest");
  });
}

describe("k8sManifests", () => {
  for (const o of cases) {
    describe(describeCase(o), () => {
      const text = k8sManifests(o);
      const name = o.name ?? "sluice";
      const artifactsDir = o.artifactsDir ?? "/artifacts";
      const resources = manifests(text);
      const ofKind = (kind: string): Obj[] => resources.filter((r) => r["kind"] === kind);
      const one = (kind: string): Obj => {
        const found = ofKind(kind);
        expect(found, kind).toHaveLength(1);
        return found[0] as Obj;
      };
      const flink = one("FlinkDeployment");
      const flinkSpec = obj(flink["spec"], "FlinkDeployment spec");
      const tm = obj(flinkSpec["taskManager"], "taskManager");
      const tmPod = obj(obj(tm["podTemplate"], "podTemplate")["spec"], "podTemplate spec");
      const tmContainers = list(tmPod["containers"], "tm containers").map((c) => obj(c, "container"));
      const deployment = one("Deployment");
      const podSpec = obj(obj(obj(deployment["spec"], "deployment spec")["template"], "template")["spec"], "pod spec");
      const jobServer = obj(list(podSpec["containers"], "containers")[0], "job server container");
      const claim = one("PersistentVolumeClaim");

      it("is one stream of a claim, a FlinkDeployment, the job server's Deployment and Service, with a usage header", () => {
        expect(resources.map((r) => r["kind"])).toEqual(["PersistentVolumeClaim", "FlinkDeployment", "Deployment", "Service"]);
        expect(text.startsWith("# ")).toBe(true);
        expect(text).toContain(`kubectl port-forward${o.namespace ? ` -n ${o.namespace}` : ""} svc/${name}-jobserver 8099 8098`);
        for (const r of resources) {
          const meta = obj(r["metadata"], "metadata");
          expect(typeof r["apiVersion"]).toBe("string");
          expect(meta["name"]).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
          expect(String(meta["name"]).length).toBeLessThanOrEqual(63);
          expect(meta["namespace"]).toBe(o.namespace);
        }
      });

      it("describes the Flink cluster for the operator", () => {
        expect(flink["apiVersion"]).toBe("flink.apache.org/v1beta1");
        expect(obj(flink["metadata"], "metadata")["name"]).toBe(name);
        expect(flinkSpec["image"]).toBe(expectedImages.flink);
        expect(flinkSpec["flinkVersion"]).toBe(`v${pins.flinkJobServer.flink.replace(".", "_")}`);
        expect(flinkSpec["flinkVersion"]).toBe(`v${pins.flink.split(".").slice(0, 2).join("_")}`);
        expect(flinkSpec["serviceAccount"]).toBe("flink");
        expect(flinkSpec["mode"]).toBe("standalone");
        expect(tm["replicas"]).toBe(o.taskmanagers);
        for (const role of [obj(flinkSpec["jobManager"], "jobManager"), tm]) {
          const resource = obj(role["resource"], "resource");
          expect(resource["memory"]).toMatch(/^\d+(m|g|Mi|Gi)$/);
          expect(resource["cpu"]).toBeGreaterThan(0);
        }
        const config = obj(flinkSpec["flinkConfiguration"], "flinkConfiguration");
        for (const [key, value] of Object.entries(config)) expect(typeof value, `flinkConfiguration ${key}`).toBe("string");
        expectSharedFlinkConfig(config as Record<string, string>, o);
        expect(config["kubernetes.rest-service.exposed.type"]).toBe(o.expose ? "LoadBalancer" : "ClusterIP");
      });

      it("is valid against the Flink Kubernetes Operator's FlinkDeployment CRD", (ctx) => {
        const loaded = loadCrd();
        if ("why" in loaded) return ctx.skip(`the operator's CRD is not available: ${loaded.why}`);
        expect(validateResource(flink, loaded.crd)).toEqual([]);
      }, 300_000);

      it("puts the worker pools beside each TaskManager, on loopback", () => {
        expect(tmContainers.map((c) => c["name"])).toEqual(["flink-main-container", ...(o.python ? ["beam-python-pool"] : []), "sluice-pool"]);
        const python = tmContainers.find((c) => c["name"] === "beam-python-pool");
        if (python) {
          expect(python["image"]).toBe(expectedImages.python);
          expect(python["args"]).toEqual(["--worker_pool"]);
        }
        const sluice = tmContainers.find((c) => c["name"] === "sluice-pool") as Obj;
        expect(sluice["image"]).toBe(expectedImages.node);
        expect(sluice["command"]).toEqual(["node", "bin/sluice.js", "worker-pool", "--host", "127.0.0.1", "--port", String(DEFAULT_PORTS.sluicePool)]);
        const projectMount = list(sluice["volumeMounts"], "mounts").map((m) => obj(m, "mount")).find((m) => m["mountPath"] === sluice["workingDir"]);
        expect(projectMount?.["readOnly"]).toBe(true);
        const projectVolume = list(tmPod["volumes"], "volumes").map((v) => obj(v, "volume")).find((v) => v["name"] === projectMount?.["name"]);
        expect(projectVolume?.["hostPath"]).toEqual({ path: root, type: "Directory" });
      });

      it("mounts one ReadWriteMany claim at the same path in every TaskManager container and the job server", () => {
        expect(obj(claim["spec"], "claim spec")["accessModes"]).toEqual(["ReadWriteMany"]);
        const claimName = obj(claim["metadata"], "claim metadata")["name"];
        for (const [what, spec, containers] of [
          ["TaskManager pod", tmPod, tmContainers],
          ["job server pod", podSpec, [jobServer]],
        ] as const) {
          const volume = list(spec["volumes"], `${what} volumes`)
            .map((v) => obj(v, "volume"))
            .find((v) => obj(v["persistentVolumeClaim"] ?? {}, "pvc")["claimName"] === claimName);
          expect(volume, `${what} has no volume for the claim`).toBeDefined();
          for (const c of containers) {
            const mounts = list(c["volumeMounts"], `${String(c["name"])} mounts`).map((m) => obj(m, "mount"));
            expect(mounts.filter((m) => m["name"] === volume?.["name"]), String(c["name"])).toEqual([{ name: volume?.["name"], mountPath: artifactsDir }]);
          }
        }
        expect(jobServer["args"]).toContain(`--artifacts-dir=${artifactsDir}`);
      });

      it("runs the job server against the FlinkDeployment's REST service", () => {
        expect(deployment["apiVersion"]).toBe("apps/v1");
        expect(jobServer["image"]).toBe(expectedImages.jobServer);
        const args = list(jobServer["args"], "args");
        expect(args).toContain(`--flink-master=${name}-rest:${DEFAULT_PORTS.flinkRest}`);
        expect(args).toContain("--clean-artifacts-per-job=true");
        expect(args).toContain(`--job-port=${DEFAULT_PORTS.jobServer}`);
        expect(args).toContain(`--artifact-port=${DEFAULT_PORTS.artifacts}`);
        expect(args.join(" ")).not.toContain("--flink-master-url");
      });

      it("has a Deployment and Service whose selectors match the pod and whose ports exist", () => {
        const spec = obj(deployment["spec"], "deployment spec");
        const template = obj(spec["template"], "template");
        const podLabels = obj(obj(template["metadata"], "template metadata")["labels"], "pod labels");
        const matchLabels = obj(obj(spec["selector"], "selector")["matchLabels"], "matchLabels");
        expect(Object.keys(matchLabels).length).toBeGreaterThan(0);
        expect(podLabels).toMatchObject(matchLabels);
        for (const c of list(podSpec["containers"], "containers").map((x) => obj(x, "container"))) {
          expect(typeof c["name"]).toBe("string");
          expect(typeof c["image"]).toBe("string");
        }
        const containerPorts = list(jobServer["ports"], "container ports").map((p) => obj(p, "port"));
        expect(containerPorts.map((p) => p["containerPort"]).sort()).toEqual([DEFAULT_PORTS.expansion, DEFAULT_PORTS.artifacts, DEFAULT_PORTS.jobServer].sort());

        const service = one("Service");
        expect(service["apiVersion"]).toBe("v1");
        const serviceSpec = obj(service["spec"], "service spec");
        expect(serviceSpec["type"]).toBe(o.expose ? "LoadBalancer" : "ClusterIP");
        const selector = obj(serviceSpec["selector"], "service selector");
        expect(Object.keys(selector).length).toBeGreaterThan(0);
        expect(podLabels).toMatchObject(selector);
        for (const p of list(serviceSpec["ports"], "service ports").map((x) => obj(x, "service port"))) {
          const target = containerPorts.find((c) => c["name"] === p["targetPort"] || c["containerPort"] === p["targetPort"]);
          expect(target, `service port ${String(p["name"])}`).toBeDefined();
          expect(p["port"]).toBe(target?.["containerPort"]);
        }
      });
    });
  }
});

describe("the CRD check", () => {
  it("rejects what the operator would reject", (ctx) => {
    const loaded = loadCrd();
    if ("why" in loaded) return ctx.skip(`the operator's CRD is not available: ${loaded.why}`);
    const good = obj(
      manifests(k8sManifests(cases[0] as EmitOptions)).find((d) => d["kind"] === "FlinkDeployment"),
      "FlinkDeployment",
    );
    const broken = (change: (spec: Obj) => void): Obj => {
      const copy = structuredClone(good);
      change(obj(copy["spec"], "spec"));
      return copy;
    };
    expect(validateResource(good, loaded.crd)).toEqual([]);
    expect(validateResource(broken((s) => (s["flinkVersion"] = "v1_99")), loaded.crd).join()).toContain("spec.flinkVersion");
    expect(validateResource(broken((s) => (s["mode"] = "session")), loaded.crd).join()).toContain("spec.mode");
    expect(validateResource(broken((s) => (obj(s["taskManager"], "tm")["replica"] = 2)), loaded.crd).join()).toContain("spec.taskManager.replica: unknown field");
    expect(validateResource(broken((s) => (obj(s["taskManager"], "tm")["replicas"] = "2")), loaded.crd).join()).toContain("must be an integer");
    expect(validateResource(broken((s) => (obj(s["flinkConfiguration"], "conf")["taskmanager.numberOfTaskSlots"] = 2)), loaded.crd).join()).toContain("must be a string");
    const badContainer = broken((s) => {
      const pod = obj(obj(obj(s["taskManager"], "tm")["podTemplate"], "pt")["spec"], "pod");
      obj(list(pod["containers"], "containers")[1], "container")["volumeMount"] = [];
    });
    expect(validateResource(badContainer, loaded.crd).join()).toContain("volumeMount: unknown field");
  }, 300_000);
});

describe("emit options", () => {
  const base: EmitOptions = { taskmanagers: 1, slots: 1, python: false, expose: false };
  it.each<[string, EmitOptions]>([
    ["no TaskManagers", { ...base, taskmanagers: 0 }],
    ["fractional slots", { ...base, slots: 1.5 }],
    ["a relative artifacts dir", { ...base, artifactsDir: "artifacts" }],
    ["an artifacts dir inside the project mount", { ...base, artifactsDir: "/sluice/artifacts" }],
    ["an upper-case name", { ...base, name: "Sluice" }],
    ["a bad namespace", { ...base, namespace: "my_ns" }],
  ])("rejects %s", (_, options) => {
    for (const emit of [composeFile, k8sManifests]) {
      let error: unknown;
      try {
        emit(options);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe("INVALID_ARGUMENT");
    }
  });
});
