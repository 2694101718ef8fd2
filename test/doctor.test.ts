/**
 * `sluice doctor`: the real command on this machine (through main(), output captured), and each
 * check as a pure function fed problem facts (Java 8, no Maven, inconsistent pins, low disk, …).
 */
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { formatJson, formatText } from "../src/cli/commands/doctor.js";
import {
  checkCached,
  checkDirectory,
  checkDisk,
  checkGo,
  checkJava,
  checkJavaHome,
  checkMaven,
  checkPorts,
  checkPython,
  checkSetpriv,
  checkVenv,
  checkVersions,
  doctorChecks,
  parseJavaMajor,
  type CheckResult,
  type CommandProbe,
  type DoctorFacts,
} from "../src/cluster/doctor.js";
import type { StackVersions } from "../src/cluster/versions.js";

const GiB = 1024 ** 3;
const ran = (output: string, exitCode = 0): CommandProbe => ({ found: true, exitCode, output });
const missing: CommandProbe = { found: false };
const JAVA_17 = 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n';
const JAVA_8 = 'java version "1.8.0_292"\nJava(TM) SE Runtime Environment (build 1.8.0_292-b10)\n';
const GOOD_VERSIONS: StackVersions = { beam: "2.73.0", jobServer: { beam: "2.62.0", flinkMinor: "1.19" }, flink: "1.19.3", pythonSdk: "2.62.0" };

async function doctor(args: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["doctor", ...args], { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("sluice doctor on this machine", () => {
  it("--json prints every check as {check, status, detail, fix} and exits 1 exactly when one fails", async () => {
    const { code, out, err } = await doctor(["--json"]);
    expect(err).toBe("");
    const results = JSON.parse(out) as { check: string; status: string; detail: string; fix: string | null }[];
    expect(Array.isArray(results)).toBe(true);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(["check", "detail", "fix", "status"]);
      expect(["ok", "info", "warn", "fail"]).toContain(r.status);
      expect(r.detail).not.toBe("");
      if (r.status === "warn" || r.status === "fail") expect(typeof r.fix, r.check).toBe("string");
    }
    const byName = new Map(results.map((r) => [r.check, r]));
    for (const name of ["java", "JAVA_HOME", "maven", "python", "venv", "setpriv", "go", "ports", "versions", "state dir", "cache dir", "disk", "cache"]) {
      expect(byName.has(name), name).toBe(true);
    }
    // This machine has what the cluster needs. Only the ports may be taken, by processes others
    // started; then the check must name their holders.
    const failing = results.filter((r) => r.status === "fail");
    for (const r of failing) expect(r.check, `${r.check}: ${r.detail}`).toBe("ports");
    if (byName.get("ports")?.status === "fail") expect(byName.get("ports")?.detail).toMatch(/held by/);
    expect(code).toBe(failing.length > 0 ? 1 : 0);
    expect(byName.get("java")?.status).toBe("ok");
    expect(byName.get("python")?.detail).toMatch(/^Python 3\.\d+/);
  });

  it("prints one line per check for people", async () => {
    const { code, out } = await doctor([]);
    expect([0, 1]).toContain(code);
    expect(out).toMatch(/^ {2}ok {4}java {2,}Java \d+/m);
    expect(out).toMatch(/^ {2}(ok|fail|warn) {1,}ports/m);
    expect(out).toMatch(/sluice doctor: (ready|\d+ problems? to fix)/);
  });

  it("rejects unknown arguments with a usage error", async () => {
    const { code, err } = await doctor(["--bogus"]);
    expect(code).toBe(2);
    expect(err).toContain("unknown argument --bogus");
  });
});

describe("java", () => {
  it("parses java -version", () => {
    expect(parseJavaMajor(JAVA_17)).toBe(17);
    expect(parseJavaMajor(JAVA_8)).toBe(8);
    expect(parseJavaMajor('openjdk version "11" 2018-09-25')).toBe(11);
    expect(parseJavaMajor('openjdk version "21-ea" 2023-09-19')).toBe(21);
    expect(parseJavaMajor("bash: java: command not found")).toBeUndefined();
  });

  it("fails Java 8 with a fix naming a newer JDK", () => {
    const r = checkJava(ran(JAVA_8), "/usr/bin/java");
    expect(r.status).toBe("fail");
    expect(r.detail).toMatch(/Java 8.*too old.*11/);
    expect(r.fix).toMatch(/JDK 17/);
  });

  it("accepts 17 and 11, warns about 21 and 15, fails when missing or broken", () => {
    expect(checkJava(ran(JAVA_17)).status).toBe("ok");
    expect(checkJava(ran('openjdk version "11.0.2"')).status).toBe("ok");
    expect(checkJava(ran('openjdk version "21.0.1"')).status).toBe("warn");
    expect(checkJava(ran('openjdk version "15.0.1"')).status).toBe("warn");
    const gone = checkJava(missing);
    expect(gone.status).toBe("fail");
    expect(gone.fix).toMatch(/install a JDK/);
    expect(checkJava(ran("Error: could not find libjava.so", 1)).detail).toContain("libjava.so");
  });

  it("checks JAVA_HOME when set", () => {
    expect(checkJavaHome(undefined, undefined).status).toBe("ok");
    const bad = checkJavaHome("/opt/nojdk", missing);
    expect(bad.status).toBe("fail");
    expect(bad.detail).toContain("/opt/nojdk");
    expect(bad.fix).toMatch(/JAVA_HOME/);
    expect(checkJavaHome("/opt/jdk8", ran(JAVA_8)).status).toBe("fail");
    expect(checkJavaHome("/opt/jdk17", ran(JAVA_17)).status).toBe("ok");
  });
});

describe("maven", () => {
  const unresolved = { resolved: false, dir: "/x/build/tools/flink-job-server" };
  it("fails when mvn is missing and the job server is not resolved yet", () => {
    const r = checkMaven(missing, unresolved, GOOD_VERSIONS);
    expect(r.status).toBe("fail");
    expect(r.detail).toMatch(/mvn is not on PATH.*Beam 2\.62\.0's Flink 1\.19 job server/);
    expect(r.fix).toMatch(/install Maven/);
  });
  it("fails when mvn -v fails", () => {
    const r = checkMaven(ran("The JAVA_HOME environment variable is not defined correctly", 1), unresolved);
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("JAVA_HOME environment variable");
  });
  it("does not need Maven once the job server is resolved", () => {
    expect(checkMaven(missing, { resolved: true, dir: "/x" }).status).toBe("ok");
  });
  it("reports the version", () => {
    const r = checkMaven(ran("Apache Maven 3.8.7\nMaven home: /usr/share/maven"), unresolved);
    expect(r.status).toBe("ok");
    expect(r.detail).toContain("Maven 3.8.7");
  });
});

describe("python and venv", () => {
  it("accepts Pythons apache-beam 2.62 supports, fails others", () => {
    expect(checkPython(ran("Python 3.11.7"), "2.62.0").status).toBe("ok");
    expect(checkPython(ran("Python 3.9.0"), "2.62.0").status).toBe("ok");
    const new13 = checkPython(ran("Python 3.13.1"), "2.62.0");
    expect(new13.status).toBe("fail");
    expect(new13.detail).toContain("3.9–3.12");
    expect(new13.fix).toMatch(/install Python 3\.9–3\.12/);
    expect(checkPython(ran("Python 3.8.10"), "2.62.0").status).toBe("fail");
    expect(checkPython(missing, "2.62.0").status).toBe("fail");
  });
  it("warns when the SDK's supported Pythons are unknown", () => {
    expect(checkPython(ran("Python 3.11.7"), "2.99.0").status).toBe("warn");
  });
  it("fails a Python without ensurepip, pointing at python3-venv", () => {
    const r = checkVenv(ran("Traceback (most recent call last):\nModuleNotFoundError: No module named 'ensurepip'", 1));
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("ensurepip");
    expect(r.fix).toContain("python3-venv");
    expect(checkVenv(ran("")).status).toBe("ok");
    expect(checkVenv(missing, false).status).toBe("info");
  });
});

describe("setpriv and go", () => {
  it("fails without setpriv", () => {
    const r = checkSetpriv(undefined);
    expect(r.status).toBe("fail");
    expect(r.fix).toContain("util-linux");
    expect(checkSetpriv("/usr/bin/setpriv").status).toBe("ok");
  });
  it("reports Go as information only", () => {
    expect(checkGo(missing, false).status).toBe("info");
    const old = checkGo(ran("go version go1.22.1 linux/amd64"), false, "2.73.0");
    expect(old.status).toBe("info");
    expect(old.detail).toContain("needs Go 1.26.1");
    expect(checkGo(ran("go version go1.26.8 linux/amd64"), true).detail).toContain("can build Prism");
  });
});

describe("ports", () => {
  const free = { key: "flinkRest" as const, port: 8081, name: "Flink REST and dashboard" };
  it("is ok when every port is free", () => {
    expect(checkPorts([free]).status).toBe("ok");
  });
  it("fails naming the port, its use and the holder", () => {
    const r = checkPorts([{ ...free, holder: { pid: 4242, command: "python3 -m http.server 8081", argv: ["python3", "-m", "http.server", "8081"], uid: 1000 } }]);
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("8081 (Flink REST and dashboard) held by pid 4242: python3 -m http.server 8081");
    expect(r.fix).toContain("kill 4242");
  });
  it("says so when a sluice cluster holds them", () => {
    const argv = ["java", "-cp", "/home/u/.cache/sluice/flink-1.19.3/lib/flink-dist.jar", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"];
    const r = checkPorts([{ ...free, holder: { pid: 7, command: "java … StandaloneSessionClusterEntrypoint", argv, uid: 1000 } }], ["/home/u/.cache/sluice"]);
    expect(r.status).toBe("warn");
    expect(r.detail).toContain("sluice cluster");
    expect(r.fix).toContain("sluice cluster down");
  });
  it("reports holders this user cannot see", () => {
    const r = checkPorts([{ ...free, holder: { pid: undefined, command: "a process this user cannot see (socket of uid 0)", argv: [], uid: 0 } }]);
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("cannot see");
  });
});

describe("versions, directories, disk, cache", () => {
  it("fails inconsistent pins, naming each mismatch", () => {
    const r = checkVersions({ file: "versions.json", value: { ...GOOD_VERSIONS, flink: "1.20.1", pythonSdk: "2.61.0" } });
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("Flink 1.20.1 is not of the job server's Flink minor 1.19");
    expect(r.detail).toContain("apache-beam 2.61.0");
    expect(r.fix).toBeDefined();
    expect(checkVersions({ file: "versions.json", error: 'it has no "flink" pin' }).status).toBe("fail");
    expect(checkVersions({ file: "versions.json", value: GOOD_VERSIONS }).status).toBe("ok");
  });
  it("fails an unwritable directory, naming the variable to set", () => {
    const r = checkDirectory("cache dir", { path: "/ro/cache", exists: false, writable: false, reason: "EROFS on /ro" }, "SLUICE_CACHE_DIR");
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("EROFS");
    expect(r.fix).toContain("SLUICE_CACHE_DIR");
  });
  it("warns when the cache's disk is low", () => {
    const r = checkDisk("/c", 1 * GiB);
    expect(r.status).toBe("warn");
    expect(r.detail).toMatch(/1\.0 GiB free.*Flink ~260 MB/);
    expect(r.fix).toContain("SLUICE_CACHE_DIR");
    expect(checkDisk("/c", 10 * GiB).status).toBe("ok");
    expect(checkDisk("/c", undefined).status).toBe("warn");
  });
  it("reports what is cached as information", () => {
    const none = checkCached("/c", { flink: false, pythonSdk: false }, false, GOOD_VERSIONS);
    expect(none.status).toBe("info");
    expect(none.detail).toContain("Flink 1.19.3 not cached");
    expect(none.detail).toContain("first `sluice cluster up` downloads");
    const all = checkCached("/c", { flink: true, pythonSdk: true }, true, GOOD_VERSIONS);
    expect(all.detail).not.toContain("downloads");
  });
});

describe("doctorChecks and the report", () => {
  const good: DoctorFacts = {
    java: ran(JAVA_17),
    javaPath: "/usr/bin/java",
    maven: ran("Apache Maven 3.9.9"),
    jobServer: { resolved: false, dir: "/x" },
    python: ran("Python 3.12.1"),
    venv: ran(""),
    setpriv: "/usr/bin/setpriv",
    go: missing,
    prismInstalled: false,
    ports: [{ key: "flinkRest", port: 8081, name: "Flink REST and dashboard" }],
    versions: { file: "versions.json", value: GOOD_VERSIONS },
    stateDir: { path: "/s", exists: true, writable: true },
    cacheDir: { path: "/c", exists: true, writable: true },
    cacheFreeBytes: 50 * GiB,
    cached: { flink: false, pythonSdk: false },
  };
  const failures = (rs: CheckResult[]): string[] => rs.filter((r) => r.status === "fail").map((r) => r.check);

  it("finds nothing wrong with a good machine", () => {
    const rs = doctorChecks(good);
    expect(failures(rs)).toEqual([]);
    expect(rs.filter((r) => r.status === "warn")).toEqual([]);
  });

  it("fails exactly the broken checks", () => {
    const rs = doctorChecks({ ...good, java: ran(JAVA_8), maven: missing, cacheFreeBytes: GiB });
    expect(failures(rs)).toEqual(["java", "maven"]);
    expect(rs.find((r) => r.check === "disk")?.status).toBe("warn");
  });

  it("formats text and JSON", () => {
    const rs = doctorChecks({ ...good, setpriv: undefined });
    const text = formatText(rs);
    expect(text).toMatch(/^ {2}fail {2}setpriv {2,}setpriv is not on PATH/m);
    expect(text).toMatch(/^ +fix: install util-linux/m);
    expect(text).toContain("sluice doctor: 1 problem to fix");
    const json = JSON.parse(formatJson(rs)) as { check: string; fix: string | null }[];
    expect(json.find((r) => r.check === "setpriv")?.fix).toContain("util-linux");
    expect(json.find((r) => r.check === "java")?.fix).toBeNull();
  });
});
