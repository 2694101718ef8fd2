/**
 * `composeFile(options)`: the docker compose file of a Sluice cluster — Flink's JobManager and
 * TaskManagers, Beam's Flink job server, and beside every TaskManager the Sluice worker pool (and
 * Beam's Python SDK worker pool) — with the images of versions.json. It is the seed setup (a blog
 * post's compose file) with its pitfalls fixed; the file's header comment says how to use it and why
 * it is laid out this way. Pure: no Docker is needed to emit it.
 */
import type { Document } from "yaml";
import { DEFAULT_PORTS } from "../defaults.js";
import { projectRoot } from "../../runners/portable/services.js";
import { stackVersions } from "../versions.js";
import {
  clusterImages,
  commentAt,
  flinkPropertiesText,
  JOBMANAGER_MEMORY,
  PROJECT_MOUNT,
  renderYaml,
  resolveEmitOptions,
  sharedFlinkConfiguration,
  taskManagerMemory,
  yamlDocument,
  type EmitOptions,
  type ResolvedEmitOptions,
} from "./options.js";

const ARTIFACTS_VOLUME = "artifacts";

export function composeFile(options: EmitOptions): string {
  const o = resolveEmitOptions(options);
  const versions = stackVersions();
  const images = clusterImages(versions);
  const ports = DEFAULT_PORTS;

  // Published ports are the only listeners on the host: loopback unless asked to expose them.
  const publish = (port: number): Record<string, string | number> => ({
    target: port,
    published: String(port),
    ...(o.expose ? {} : { host_ip: "127.0.0.1" }),
    protocol: "tcp",
  });
  const artifactsMount = { type: "volume", source: ARTIFACTS_VOLUME, target: o.artifactsDir };
  const tcpCheck = (test: string[]): Record<string, unknown> => ({ test, interval: "5s", timeout: "3s", retries: 30, start_period: "10s" });

  const shared = sharedFlinkConfiguration(o);
  const jobManagerConfig = {
    "jobmanager.rpc.address": "jobmanager",
    "jobmanager.rpc.port": String(ports.flinkRpc),
    // 0.0.0.0 inside the container's own network namespace: reachable from this compose network and
    // through the published port only.
    "jobmanager.bind-host": "0.0.0.0",
    "rest.address": "jobmanager",
    "rest.port": String(ports.flinkRest),
    "rest.bind-address": "0.0.0.0",
    "jobmanager.memory.process.size": JOBMANAGER_MEMORY,
    ...shared,
  };
  const taskManagerConfig = (host: string): Record<string, string> => ({
    "jobmanager.rpc.address": "jobmanager",
    "jobmanager.rpc.port": String(ports.flinkRpc),
    // Advertise the service name: the JobManager and other TaskManagers reach this one by it.
    "taskmanager.host": host,
    "taskmanager.bind-host": "0.0.0.0",
    // Fixed ports are safe: every TaskManager has its own network namespace (no host networking).
    "taskmanager.rpc.port": "6122",
    "taskmanager.data.port": "6121",
    "taskmanager.memory.process.size": taskManagerMemory(o.slots),
    ...shared,
  });

  const services: Record<string, Record<string, unknown>> = {
    jobmanager: {
      image: images.flink,
      command: "jobmanager",
      environment: { FLINK_PROPERTIES: flinkPropertiesText(jobManagerConfig) },
      ports: [publish(ports.flinkRest)],
      // The image is based on eclipse-temurin, which has curl.
      healthcheck: tcpCheck(["CMD", "curl", "-fsS", "-o", "/dev/null", `http://localhost:${ports.flinkRest}/overview`]),
    },
  };
  for (let i = 1; i <= o.taskmanagers; i++) {
    const tm = `taskmanager-${i}`;
    services[tm] = {
      image: images.flink,
      command: "taskmanager",
      depends_on: { jobmanager: { condition: "service_healthy" } },
      environment: { FLINK_PROPERTIES: flinkPropertiesText(taskManagerConfig(tm)) },
      volumes: [artifactsMount],
    };
    if (o.python) {
      services[`python-pool-${i}`] = {
        image: images.pythonSdk,
        command: ["--worker_pool"],
        network_mode: `service:${tm}`,
        depends_on: { [tm]: { condition: "service_started" } },
        volumes: [artifactsMount],
        healthcheck: tcpCheck(["CMD", "python", "-c", `import socket; socket.create_connection(("127.0.0.1", ${ports.pythonPool}), 2)`]),
      };
    }
    services[`sluice-pool-${i}`] = {
      image: images.node,
      working_dir: PROJECT_MOUNT,
      command: ["node", "bin/sluice.js", "worker-pool", "--host", "127.0.0.1", "--port", String(ports.sluicePool)],
      network_mode: `service:${tm}`,
      depends_on: { [tm]: { condition: "service_started" } },
      volumes: [{ type: "bind", source: projectRoot, target: PROJECT_MOUNT, read_only: true }, artifactsMount],
      healthcheck: tcpCheck([
        "CMD",
        "node",
        "-e",
        `require("node:net").connect(${ports.sluicePool}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))`,
      ]),
    };
  }
  services["jobserver"] = {
    image: images.jobServer,
    command: [
      "--flink-master",
      `jobmanager:${ports.flinkRest}`,
      "--artifacts-dir",
      o.artifactsDir,
      "--clean-artifacts-per-job",
      "true",
      // Only the address the job server advertises (it binds every interface of its container):
      // clients dial the artifact staging endpoint it returns, localhost:8098, the published port.
      "--job-host",
      "localhost",
      "--job-port",
      String(ports.jobServer),
      "--artifact-port",
      String(ports.artifacts),
      "--expansion-port",
      String(ports.expansion),
    ],
    depends_on: { jobmanager: { condition: "service_healthy" } },
    ports: [publish(ports.jobServer), publish(ports.artifacts), publish(ports.expansion)],
    volumes: [artifactsMount],
    healthcheck: tcpCheck(["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${ports.jobServer}`]),
  };

  const doc = yamlDocument({ name: o.name, services, volumes: { [ARTIFACTS_VOLUME]: {} } }, header(o, versions.pythonSdk));
  commentServices(doc, o.python);
  return renderYaml([doc]);
}

function header(o: ResolvedEmitOptions, pythonSdk: string): string {
  const where = o.expose ? "on every interface (--expose)" : "on 127.0.0.1 only";
  const file = `${o.name}-compose.yaml`;
  return [
    `Sluice cluster "${o.name}": Flink (1 JobManager, ${o.taskmanagers} TaskManager${o.taskmanagers === 1 ? "" : "s"} × ${o.slots} slots),`,
    `Beam's Flink job server, and beside each TaskManager the Sluice worker pool${o.python ? " and Beam's Python SDK worker pool" : ""}.`,
    "Generated from versions.json by `sluice cluster compose` (--taskmanagers N --slots S --python --expose):",
    "regenerate it rather than edit it, e.g. for another TaskManager count.",
    "",
    "Use (save this file as e.g. " + file + "):",
    "  npm run build        # in the Sluice project: the Sluice pool runs its dist/ (no Sluice image is published)",
    `  docker compose -f ${file} up -d --wait`,
    "  sluice run pipeline.ts --runner=flink --job_endpoint=localhost:8099 \\",
    "      --environment_type=EXTERNAL --environment_config=localhost:50001",
    ...(o.python
      ? [
          `  python pipeline.py --runner=PortableRunner --job_endpoint=localhost:8099 \\`,
          "      --environment_type=EXTERNAL --environment_config=localhost:50000",
          `      # the client needs apache-beam==${pythonSdk} (Python 3.11): the job server's and the pool's Beam`,
        ]
      : []),
    `  Flink dashboard: http://localhost:8081. Published ${where}: 8081 (Flink REST), 8099 (Job API),`,
    "  8098 (artifact staging), 8097 (expansion). Remove everything, artifacts included: docker compose down -v",
    "",
    "Why it is laid out this way (unlike the usual `network_mode: host` setup):",
    "- An EXTERNAL environment's address (localhost:50001) is resolved by each TaskManager, and Beam's Fn API",
    "  servers inside the TaskManager advertise \"localhost\": SDK workers must share the TaskManager's network",
    "  namespace. Rather than put everything in the host's, each TaskManager gets its own pool containers joined",
    "  to its namespace (network_mode: service:taskmanager-N), as the Kubernetes manifests use sidecars. So the",
    "  TaskManagers are numbered services, not one service with `scale:`, which cannot give each its own pools.",
    "- Host networking would put every listener on the host's interfaces: Beam's Python pool binds [::]:50000,",
    "  and Beam's Java gRPC servers (the job server, the TaskManagers' Fn API servers) bind every interface",
    `  whatever address they advertise. Here only the published ports reach the host, ${where};`,
    "  0.0.0.0 binds below are inside each container's own namespace, reachable on this compose network only.",
    "  Separate namespaces also mean TaskManager ports cannot collide, and it works on Docker Desktop too.",
    `- One named volume is mounted at ${o.artifactsDir} in the job server, every TaskManager and every pool: the`,
    "  job server stages files there and TaskManagers read them by the same path.",
    "- Flink's configuration is inline (FLINK_PROPERTIES): no ./conf directory to write.",
    "- Files a pipeline writes land inside the worker pool containers: mount a directory into them to keep them.",
    ...(o.expose
      ? [
          "- Exposed: the job server still advertises its artifact staging endpoint as localhost:8098, so a client",
          "  on another machine must be told the real address (Python: --artifact_endpoint). Worker pools are never",
          "  published: whoever reaches one can make it run code.",
        ]
      : []),
  ].join("\n");
}

function commentServices(doc: Document, python: boolean): void {
  commentAt(doc, ["services", "jobmanager"], "Flink's JobManager: REST API and dashboard, RPC for the TaskManagers.");
  commentAt(doc, ["services", "taskmanager-1"], "Flink's TaskManagers, one service each (see the header for why not `scale:`).");
  if (python) {
    commentAt(
      doc,
      ["services", "python-pool-1"],
      "Beam's Python SDK worker pool (--environment_config=localhost:50000), in taskmanager-1's network namespace.",
    );
  }
  commentAt(
    doc,
    ["services", "sluice-pool-1"],
    [
      "The Sluice worker pool (--environment_config=localhost:50001), in taskmanager-1's network namespace.",
      "No Sluice image is published: plain Node 20 runs this project, mounted read-only (build it first).",
      "It listens on 127.0.0.1: only its TaskManager needs it, and whoever reaches it can make it run code.",
    ].join("\n"),
  );
  commentAt(
    doc,
    ["services", "jobserver"],
    "Beam's Flink job server: takes Beam pipelines (Job API) and submits them to the JobManager's REST port.",
  );
}
