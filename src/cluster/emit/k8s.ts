/**
 * `k8sManifests(options)`: a Sluice cluster on Kubernetes as one multi-document YAML stream — a
 * FlinkDeployment for the Flink Kubernetes Operator (TaskManagers carrying the worker pools as
 * sidecars), a shared artifacts volume claim, and Beam's Flink job server as a Deployment and
 * Service — with the images of versions.json. The same layout as the compose file (`compose.ts`);
 * the comments in the output say why each choice was made. Pure: no cluster is needed to emit it.
 */
import { DEFAULT_PORTS } from "../defaults.js";
import { projectRoot } from "../../runners/portable/services.js";
import { stackVersions } from "../versions.js";
import {
  clusterImages,
  commentAt,
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

/** The operator's name for the TaskManager's Flink container, which a pod template extends. */
const FLINK_MAIN_CONTAINER = "flink-main-container";
/** The service account the operator's Helm chart creates in every namespace it watches. */
const SERVICE_ACCOUNT = "flink";

export function k8sManifests(options: EmitOptions): string {
  const o = resolveEmitOptions(options);
  const versions = stackVersions();
  const images = clusterImages(versions);
  const ports = DEFAULT_PORTS;
  const names = {
    artifacts: `${o.name}-artifacts`,
    jobServer: `${o.name}-jobserver`,
    // The operator names the JobManager's REST service after the deployment.
    rest: `${o.name}-rest`,
  };
  const metadata = (name: string, component: string): Record<string, unknown> => ({
    name,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    labels: { "app.kubernetes.io/part-of": "sluice", "app.kubernetes.io/instance": o.name, "app.kubernetes.io/component": component },
  });
  const artifactsVolume = { name: "artifacts", persistentVolumeClaim: { claimName: names.artifacts } };
  const artifactsMount = { name: "artifacts", mountPath: o.artifactsDir };

  const claim = yamlDocument(
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: metadata(names.artifacts, "artifacts"),
      spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "1Gi" } } },
    },
    header(o, versions.pythonSdk),
  );
  commentAt(
    claim,
    ["spec", "accessModes"],
    [
      "ReadWriteMany: the job server writes staged artifacts and every TaskManager, on any node, reads them",
      `by the same path (${o.artifactsDir}). Needs a storage class that offers it (NFS, CephFS, EFS, Azure Files…).`,
    ].join("\n"),
  );

  const sidecars: Record<string, unknown>[] = [];
  if (o.python) {
    sidecars.push({
      name: "beam-python-pool",
      image: images.pythonSdk,
      args: ["--worker_pool"],
      volumeMounts: [artifactsMount],
      resources: { requests: { cpu: "250m", memory: "512Mi" } },
    });
  }
  sidecars.push({
    name: "sluice-pool",
    image: images.node,
    workingDir: PROJECT_MOUNT,
    command: ["node", "bin/sluice.js", "worker-pool", "--host", "127.0.0.1", "--port", String(ports.sluicePool)],
    volumeMounts: [{ name: "sluice-project", mountPath: PROJECT_MOUNT, readOnly: true }, artifactsMount],
    resources: { requests: { cpu: "250m", memory: "512Mi" } },
  });

  const flink = yamlDocument({
    apiVersion: "flink.apache.org/v1beta1",
    kind: "FlinkDeployment",
    metadata: metadata(o.name, "flink"),
    spec: {
      image: images.flink,
      flinkVersion: `v${versions.jobServer.flinkMinor.replace(".", "_")}`,
      mode: "standalone",
      serviceAccount: SERVICE_ACCOUNT,
      flinkConfiguration: {
        ...sharedFlinkConfiguration(o),
        "kubernetes.rest-service.exposed.type": o.expose ? "LoadBalancer" : "ClusterIP",
      },
      jobManager: { replicas: 1, resource: { memory: JOBMANAGER_MEMORY, cpu: 1 } },
      taskManager: {
        replicas: o.taskmanagers,
        resource: { memory: taskManagerMemory(o.slots), cpu: 1 },
        podTemplate: {
          apiVersion: "v1",
          kind: "Pod",
          spec: {
            containers: [{ name: FLINK_MAIN_CONTAINER, volumeMounts: [artifactsMount] }, ...sidecars],
            volumes: [artifactsVolume, { name: "sluice-project", hostPath: { path: projectRoot, type: "Directory" } }],
          },
        },
      },
    },
  });
  commentAt(
    flink,
    ["spec", "mode"],
    [
      "standalone: the operator keeps taskManager.replicas TaskManagers (with their pools) running, like the",
      "compose file. Native mode would create TaskManagers only when a job asks for slots and remove idle ones.",
    ].join("\n"),
  );
  commentAt(flink, ["spec", "serviceAccount"], "Created by the operator's Helm chart in every namespace it watches.");
  commentAt(
    flink,
    ["spec", "taskManager", "podTemplate"],
    [
      "The worker pools are sidecars of every TaskManager: the EXTERNAL environment address",
      `(localhost:${ports.pythonPool} for Python, localhost:${ports.sluicePool} for Sluice) is resolved by each TaskManager, and`,
      "Beam's Fn API servers in the TaskManager advertise \"localhost\" to the workers, so workers must share",
      "the TaskManager's network namespace: a pod's containers do, a separate pool Deployment would not.",
      ...(o.python ? ["Beam's Python pool binds [::]:50000 (no flag changes that): on a shared cluster add a NetworkPolicy."] : []),
    ].join("\n"),
  );
  commentAt(
    flink,
    ["spec", "taskManager", "podTemplate", "spec", "containers", sidecars.length],
    [
      "No Sluice image is published: plain Node 20 runs this project from the node's filesystem (hostPath",
      "below, built with npm run build). That suits a one-node development cluster with the project at the same",
      "path on the node (minikube mount, kind extraMounts, Docker Desktop). Elsewhere, build an image holding",
      "the project and use it here instead of the hostPath volume.",
      "It listens on 127.0.0.1: only its TaskManager needs it, and whoever reaches it can make it run code.",
    ].join("\n"),
  );

  const selector = { "app.kubernetes.io/instance": o.name, "app.kubernetes.io/component": "jobserver" };
  const jobServerPorts = [
    { name: "job-api", containerPort: ports.jobServer },
    { name: "artifacts", containerPort: ports.artifacts },
    { name: "expansion", containerPort: ports.expansion },
  ];
  const deployment = yamlDocument({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(names.jobServer, "jobserver"),
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector, "app.kubernetes.io/part-of": "sluice" } },
        spec: {
          containers: [
            {
              name: "jobserver",
              image: images.jobServer,
              args: [
                `--flink-master=${names.rest}:${ports.flinkRest}`,
                `--artifacts-dir=${o.artifactsDir}`,
                "--clean-artifacts-per-job=true",
                "--job-host=localhost",
                `--job-port=${ports.jobServer}`,
                `--artifact-port=${ports.artifacts}`,
                `--expansion-port=${ports.expansion}`,
              ],
              ports: jobServerPorts.map((p) => ({ ...p, protocol: "TCP" })),
              volumeMounts: [artifactsMount],
              readinessProbe: { tcpSocket: { port: "job-api" }, periodSeconds: 5 },
              resources: { requests: { cpu: "500m", memory: "1Gi" } },
            },
          ],
          volumes: [artifactsVolume],
        },
      },
    },
  });
  commentAt(
    deployment,
    ["spec", "template", "spec", "containers", 0, "args", 3],
    [
      "--job-host names the address the job server advertises (it binds every interface of the pod): clients",
      `dial the artifact staging endpoint it returns, localhost:${ports.artifacts}, so port-forward that port as well.`,
    ].join("\n"),
  );

  const service = yamlDocument({
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(names.jobServer, "jobserver"),
    spec: {
      type: o.expose ? "LoadBalancer" : "ClusterIP",
      selector,
      ports: jobServerPorts.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: "TCP" })),
    },
  });

  return renderYaml([claim, flink, deployment, service]);
}

function header(o: ResolvedEmitOptions, pythonSdk: string): string {
  const ns = o.namespace !== undefined ? ` -n ${o.namespace}` : "";
  return [
    `Sluice cluster "${o.name}" for the Flink Kubernetes Operator: Flink (${o.taskmanagers} TaskManager${o.taskmanagers === 1 ? "" : "s"} × ${o.slots} slots,`,
    `the Sluice worker pool${o.python ? " and Beam's Python SDK worker pool" : ""} as sidecars of each), Beam's Flink job server, a shared artifacts volume.`,
    "Generated from versions.json by `sluice cluster k8s` (--taskmanagers N --slots S --python --expose --name --namespace):",
    "regenerate it rather than edit it.",
    "",
    "Needs: the Flink Kubernetes Operator (1.8 or later, for Flink 1.19) installed with its Helm chart, and a",
    "storage class offering ReadWriteMany volumes. Then:",
    `  kubectl apply${ns} -f ${o.name}-k8s.yaml`,
    `  kubectl port-forward${ns} svc/${o.name}-jobserver 8099 8098     # Job API and artifact staging`,
    `  kubectl port-forward${ns} svc/${o.name}-rest 8081                # Flink dashboard`,
    "  sluice run pipeline.ts --runner=flink --job_endpoint=localhost:8099 \\",
    "      --environment_type=EXTERNAL --environment_config=localhost:50001",
    ...(o.python
      ? [
          "  python pipeline.py --runner=PortableRunner --job_endpoint=localhost:8099 \\",
          "      --environment_type=EXTERNAL --environment_config=localhost:50000",
          `      # the client needs apache-beam==${pythonSdk} (Python 3.11): the job server's and the pool's Beam`,
        ]
      : []),
    ...(o.expose
      ? [
          "Exposed: the job server and Flink REST services are LoadBalancers. The job server still advertises its",
          "artifact staging endpoint as localhost:8098, so a remote client must be told the real address",
          "(Python: --artifact_endpoint). The worker pools are never exposed: whoever reaches one can make it run code.",
        ]
      : []),
  ].join("\n");
}
