/**
 * The stack's versions, pinned in versions.json and checked against each other: the cluster's Flink
 * release must be of the job server's Flink minor, and the Python SDK for the cluster's worker pool
 * must be the job server's Beam version (Beam gives no cross-version guarantee). Apache Kafka (for
 * `cluster up --kafka`) is pinned beside them; nothing else depends on its release.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SluiceError } from "../internal/errors.js";
import { projectRoot } from "../runners/portable/services.js";

export interface StackVersions {
  /** The Beam protocol version of the TypeScript SDK (and Prism). */
  readonly beam: string;
  /** Beam's Flink job server: its Beam version and the Flink minor it is built for. */
  readonly jobServer: { readonly beam: string; readonly flinkMinor: string };
  /** The Flink release of the cluster (and of the job server's Flink client jars). */
  readonly flink: string;
  /** apache-beam (PyPI) for the cluster's Python worker pool. */
  readonly pythonSdk: string;
  /** Apache Kafka (Maven Central org.apache.kafka:kafka_2.13) for `cluster up --kafka`; absent when not pinned. */
  readonly kafka?: string;
}

/** versions.json as StackVersions, unchecked; throws naming a missing pin. */
export function readStackVersions(file = join(projectRoot, "versions.json")): StackVersions {
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const js = raw["flinkJobServer"] as Record<string, unknown> | undefined;
  const pin = (value: unknown, name: string): string => {
    if (typeof value !== "string" || value === "") throw new Error(`it has no "${name}" pin`);
    return value;
  };
  return {
    beam: pin(raw["beam"], "beam"),
    jobServer: { beam: pin(js?.["beam"], "flinkJobServer.beam"), flinkMinor: pin(js?.["flink"], "flinkJobServer.flink") },
    flink: pin(raw["flink"], "flink"),
    pythonSdk: pin(raw["pythonSdk"], "pythonSdk"),
    ...(raw["kafka"] === undefined ? {} : { kafka: pin(raw["kafka"], "kafka") }),
  };
}

/** The pinned versions, checked: throws naming the mismatch when versions.json contradicts itself. */
export function stackVersions(file = join(projectRoot, "versions.json")): StackVersions {
  const versions = readStackVersions(file);
  const problems = versionProblems(versions);
  if (problems.length > 0) {
    throw new SluiceError("FAILED_PRECONDITION", `${file} pins versions that do not work together:\n  ${problems.join("\n  ")}`, {
      hint: "Fix the pins in versions.json so the Flink minor and the Beam versions agree.",
    });
  }
  return versions;
}

/** What is inconsistent about a set of versions, one sentence each (empty when they agree). */
export function versionProblems(v: StackVersions): string[] {
  const problems: string[] = [];
  if (flinkMinor(v.flink) !== v.jobServer.flinkMinor) {
    problems.push(`the cluster's Flink ${v.flink} is not of the job server's Flink minor ${v.jobServer.flinkMinor}`);
  }
  if (v.pythonSdk !== v.jobServer.beam) {
    problems.push(`the Python SDK apache-beam ${v.pythonSdk} is not the job server's Beam ${v.jobServer.beam} (Beam requires the same version)`);
  }
  if (v.kafka !== undefined && !/^\d+\.\d+\.\d+$/.test(v.kafka)) {
    problems.push(`the Kafka pin "${v.kafka}" is not a release number (major.minor.patch)`);
  }
  return problems;
}

/** "1.19.3" → "1.19". */
export function flinkMinor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}
