/**
 * The stack's versions, pinned in versions.json and checked against each other: the cluster's Flink
 * release must be of the job server's Flink minor, and the Python SDK for the cluster's worker pool
 * must be the job server's Beam version (Beam gives no cross-version guarantee).
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
}

interface VersionsFile {
  beam: string;
  flinkJobServer: { beam: string; flink: string };
  flink: string;
  pythonSdk: string;
}

/** The pinned versions, checked: throws naming the mismatch when versions.json contradicts itself. */
export function stackVersions(file = join(projectRoot, "versions.json")): StackVersions {
  const v = JSON.parse(readFileSync(file, "utf8")) as VersionsFile;
  const versions: StackVersions = {
    beam: v.beam,
    jobServer: { beam: v.flinkJobServer.beam, flinkMinor: v.flinkJobServer.flink },
    flink: v.flink,
    pythonSdk: v.pythonSdk,
  };
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
  return problems;
}

/** "1.19.3" → "1.19". */
export function flinkMinor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}
