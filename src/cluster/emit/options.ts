/**
 * What the cluster emitters (`compose.ts`, `k8s.ts`) share: their options, checked and defaulted
 * once, the images matched to versions.json, the Flink configuration both deployments use, and a
 * small helper to put comments on the YAML documents they build. The emitters build documents from
 * plain objects with the `yaml` package (never string templates), so what they print always parses.
 */
import { posix } from "node:path";
import { Document, isMap, isScalar, isSeq } from "yaml";
import { SluiceError } from "../../internal/errors.js";
import { stackVersions, type StackVersions } from "../versions.js";
import { jobPolicy } from "../flink.js";

export interface EmitOptions {
  /** TaskManagers in the cluster (a whole number ≥ 1). */
  taskmanagers: number;
  /** Task slots per TaskManager (a whole number ≥ 1). Total parallelism is taskmanagers × slots. */
  slots: number;
  /** Also run Beam's Python SDK worker pool (EXTERNAL environments of Python pipelines) beside each TaskManager. */
  python: boolean;
  /** Publish the endpoints on every interface (compose) or through LoadBalancer services (Kubernetes); default: loopback only / ClusterIP. */
  expose: boolean;
  /** Name of the compose project, or prefix of every Kubernetes object. Default "sluice". */
  name?: string;
  /** Kubernetes namespace of every object. Default: none (kubectl's current namespace). */
  namespace?: string;
  /** Absolute path of the shared artifacts directory inside every container that needs it. Default "/artifacts". */
  artifactsDir?: string;
}

/** EmitOptions checked, with every default filled in. */
export interface ResolvedEmitOptions {
  readonly taskmanagers: number;
  readonly slots: number;
  readonly python: boolean;
  readonly expose: boolean;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly artifactsDir: string;
}

export const DEFAULT_NAME = "sluice";
export const DEFAULT_ARTIFACTS_DIR = "/artifacts";
/** Where the Sluice worker pool container sees this project (there is no published Sluice image). */
export const PROJECT_MOUNT = "/sluice";

/** A DNS-1123 label: what Kubernetes accepts as a name and compose as a project name. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks the options and fills in the defaults; throws INVALID_ARGUMENT naming the bad option. */
export function resolveEmitOptions(options: EmitOptions): ResolvedEmitOptions {
  const wholeAtLeastOne = (value: number, flag: string): number => {
    if (!Number.isInteger(value) || value < 1) {
      throw new SluiceError("INVALID_ARGUMENT", `${flag} must be a whole number of at least 1, not ${value}`, {
        hint: `write e.g. ${flag} 2`,
      });
    }
    return value;
  };
  const name = options.name ?? DEFAULT_NAME;
  // 40 leaves room for the longest suffix added to it ("-python-pool-NN", "-jobserver") within 63.
  if (!NAME.test(name) || name.length > 40) {
    throw new SluiceError("INVALID_ARGUMENT", `cluster name "${name}" is not usable as a compose project or Kubernetes name`, {
      hint: "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters",
    });
  }
  if (options.namespace !== undefined && (!NAME.test(options.namespace) || options.namespace.length > 63)) {
    throw new SluiceError("INVALID_ARGUMENT", `"${options.namespace}" is not a valid Kubernetes namespace`, {
      hint: "use lowercase letters, digits and '-', starting and ending with a letter or digit",
    });
  }
  const artifactsDir = options.artifactsDir ?? DEFAULT_ARTIFACTS_DIR;
  const underProject = artifactsDir === PROJECT_MOUNT || artifactsDir.startsWith(`${PROJECT_MOUNT}/`);
  if (!posix.isAbsolute(artifactsDir) || posix.normalize(artifactsDir) !== artifactsDir || artifactsDir === "/" || underProject) {
    throw new SluiceError("INVALID_ARGUMENT", `the artifacts directory must be a normalised absolute path inside the containers, outside ${PROJECT_MOUNT} and not /; got "${artifactsDir}"`, {
      hint: `e.g. ${DEFAULT_ARTIFACTS_DIR}: the job server writes staged files there and every TaskManager reads them by that same path`,
    });
  }
  return {
    taskmanagers: wholeAtLeastOne(options.taskmanagers, "--taskmanagers"),
    slots: wholeAtLeastOne(options.slots, "--slots"),
    python: options.python,
    expose: options.expose,
    name,
    namespace: options.namespace,
    artifactsDir,
  };
}

export interface ClusterImages {
  readonly flink: string;
  readonly jobServer: string;
  readonly pythonSdk: string;
  /** For the Sluice worker pool: plain Node with this project mounted. */
  readonly node: string;
}

/** The images of the pinned versions (versions.json, checked against each other by stackVersions). */
export function clusterImages(versions: StackVersions = stackVersions()): ClusterImages {
  return {
    flink: `flink:${versions.flink}-scala_2.12-java17`,
    jobServer: `apache/beam_flink${versions.jobServer.flinkMinor}_job_server:${versions.jobServer.beam}`,
    // 3.11: the Python the stack is documented with (apache-beam supports it).
    pythonSdk: `apache/beam_python3.11_sdk:${versions.pythonSdk}`,
    node: "node:20-bookworm-slim",
  };
}

/** TaskManager process memory: a base plus a share per slot (network buffers and managed memory grow with slots). */
export function taskManagerMemory(slots: number): string {
  return `${1024 + 512 * slots}m`;
}

export const JOBMANAGER_MEMORY = "1600m";

/**
 * The Flink configuration both deployments share. Values are strings: the operator's CRD types
 * flinkConfiguration as a string map, and FLINK_PROPERTIES is text anyway.
 */
export function sharedFlinkConfiguration(o: ResolvedEmitOptions): Record<string, string> {
  return {
    "taskmanager.numberOfTaskSlots": String(o.slots),
    "parallelism.default": String(o.taskmanagers * o.slots),
    // The same restart strategy, failover and dashboard policy as the local cluster.
    ...jobPolicy(false),
  };
}

/** Renders a configuration map as FLINK_PROPERTIES / config.yaml lines ("key: value"). */
export function flinkPropertiesText(config: Readonly<Record<string, string>>): string {
  return Object.entries(config)
    .map(([key, value]) => `${key}: ${value}`)
    .join("\n");
}

/**
 * Puts a comment before the map entry (or sequence item) at `path` of a document built from
 * objects. Throws INTERNAL when the path does not exist, so a renamed key cannot silently drop a comment.
 */
export function commentAt(doc: Document, path: readonly (string | number)[], text: string): void {
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent: unknown = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  const lines = text
    .split("\n")
    .map((line) => (line === "" ? "" : ` ${line}`))
    .join("\n");
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
    if (pair && isScalar(pair.key)) {
      pair.key.commentBefore = lines;
      return;
    }
  } else if (isSeq(parent) && typeof last === "number") {
    const item: unknown = parent.items[last];
    if (isMap(item) || isSeq(item) || isScalar(item)) {
      item.commentBefore = lines;
      return;
    }
  }
  throw new SluiceError("INTERNAL", `no YAML node at ${path.join(".")} to comment on`);
}

/** A document from plain objects with a header comment; `toString` never folds long lines. */
export function yamlDocument(value: unknown, header?: string): Document {
  // Spell repeated objects (the shared volume mount) out instead of YAML anchors: easier to read and edit.
  const doc = new Document(value, { aliasDuplicateObjects: false });
  if (header !== undefined) {
    doc.commentBefore = header
      .split("\n")
      .map((line) => (line === "" ? "" : ` ${line}`))
      .join("\n");
  }
  return doc;
}

/** Renders documents as one YAML stream. */
export function renderYaml(docs: readonly Document[]): string {
  return docs.map((doc) => doc.toString({ lineWidth: 0 })).join("---\n");
}
