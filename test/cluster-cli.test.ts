/**
 * `sluice cluster` and `sluice jobs` argument handling and the no-cluster paths, through main()
 * with a temporary state directory (no cluster is started here; test/cluster.test.ts does that).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";

const state = mkdtempSync(join(tmpdir(), "sluice-cluster-cli-"));
afterAll(() => rmSync(state, { recursive: true, force: true }));

async function sluice(args: string[], stateDir = state): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env: { ...process.env, SLUICE_STATE_DIR: stateDir },
  });
  return { code, out, err };
}

describe("sluice cluster arguments", () => {
  it("rejects two components on one port, naming both flags", async () => {
    const r = await sluice(["cluster", "up", "--job-port", "8081"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--rest-port and --job-port are both 8081");
  });

  it("rejects a Flink version other than the pinned one, naming both", async () => {
    const r = await sluice(["cluster", "up", "--flink-version", "1.20"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--flink-version 1\.20 is not available: the cluster runs Flink 1\.19\.\d+/);
  });

  it("rejects bad numbers and unknown options and subcommands", async () => {
    expect((await sluice(["cluster", "up", "--taskmanagers", "0"])).err).toContain("--taskmanagers must be a whole number from 1 to 64");
    expect((await sluice(["cluster", "up", "--slots", "two"])).code).toBe(2);
    expect((await sluice(["cluster", "up", "--bogus"])).err).toContain("unknown argument --bogus for sluice cluster up");
    const sub = await sluice(["cluster", "start"]);
    expect(sub.code).toBe(2);
    expect(sub.err).toContain('unknown subcommand "cluster start"');
    expect((await sluice(["cluster", "scale", "0"])).code).toBe(2);
  });

  it("reports no cluster plainly: status exits 1, down has nothing to stop, scale and jobs say to start one", async () => {
    const st = await sluice(["cluster", "status"]);
    expect(st.code).toBe(1);
    expect(st.out).toContain("not running");
    const json = await sluice(["cluster", "status", "--json"]);
    expect(JSON.parse(json.out)).toMatchObject({ status: "down", components: [] });
    const down = await sluice(["cluster", "down"]);
    expect(down.code).toBe(0);
    expect(down.out).toContain("no cluster is running");
    const scale = await sluice(["cluster", "scale", "2"]);
    expect(scale.code).toBe(1);
    expect(scale.err).toContain("no cluster is running");
    const jobs = await sluice(["jobs", "list"]);
    expect(jobs.code).not.toBe(0);
    expect(jobs.err).toContain("no cluster is running");
  });

  it("treats a state file whose supervisor is gone as stale, and down removes it without signalling anyone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-stale-"));
    try {
      // pid 1's start time is not 12345: an identity that matches no live process.
      const component = { name: "jobmanager", kind: "jobmanager", pid: 1, startTime: 12345, state: "running", ports: { rest: 8081 }, version: "Flink", log: join(dir, "logs", "jobmanager.log"), restarts: 0 };
      writeFileSync(
        join(dir, "cluster.json"),
        JSON.stringify({ supervisor: { pid: 1, startTime: 12345 }, phase: "ready", startedAt: "", stateDir: dir, bindHost: "127.0.0.1", ports: { flinkRest: 8081, flinkRpc: 6123, jobServer: 8099, artifacts: 8098, expansion: 8097, pythonPool: 50000, sluicePool: 50001 }, taskmanagers: 1, slots: 2, python: false, versions: {}, flinkHome: "", artifactsDir: "", components: [component] }),
      );
      const st = await sluice(["cluster", "status"], dir);
      expect(st.code).toBe(1);
      expect(st.out).toContain("STALE");
      const down = await sluice(["cluster", "down"], dir);
      expect(down.code).toBe(0);
      expect(down.err).toContain("is gone");
      expect((await sluice(["cluster", "status", "--json"], dir)).out).toContain('"status": "down"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("logs names the components that have logs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-logs-"));
    try {
      mkdirSync(join(dir, "logs"));
      writeFileSync(join(dir, "logs", "jobmanager.log"), "line one\nline two\n");
      const r = await sluice(["cluster", "logs", "jobmanager", "--lines", "1"], dir);
      expect(r.code).toBe(0);
      expect(r.out).toContain("line two");
      expect(r.out).not.toContain("line one");
      const missing = await sluice(["cluster", "logs", "taskmanager-9"], dir);
      expect(missing.code).toBe(1);
      expect(missing.err).toContain("Components with logs: jobmanager");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
