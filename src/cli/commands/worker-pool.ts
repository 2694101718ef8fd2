/**
 * `sluice worker-pool [--port N] [--host ADDRESS] [--max-workers N] [--worker-connect-timeout SECONDS]`: Beam's BeamFnExternalWorkerPool for EXTERNAL
 * environments (what `python -m apache_beam.runners.worker.worker_pool_main` is for Python). A
 * runner asks it to start a worker per environment; each worker is a child process that fetches
 * the pipeline file `sluice run` shipped and runs its bundles. Prints
 * `sluice worker-pool: listening on <host:port>` when ready; Ctrl-C stops the pool and its workers.
 */

import { DEFAULT_WORKER_CONNECT_TIMEOUT_MS, defaultMaxWorkers, isLoopbackHost, startProcessPool } from "../../harness/pool.js";
import { argsError, parseCommandArgs } from "../args.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { WORKER_POOL_INFO } from "./info.js";
import { formatError } from "../report.js";

/** The port Beam's Python worker pool uses by default. */
const DEFAULT_PORT = 50000;

const SYNOPSIS = WORKER_POOL_INFO.synopsis;

interface PoolFlags {
  help: boolean;
  port: number;
  host: string;
  /** undefined: the pool's default (defaultMaxWorkers()). */
  maxWorkers: number | undefined;
  /** In ms; undefined: the pool's default. */
  connectTimeoutMs: number | undefined;
}

export const workerPoolCommand: Command = {
  ...WORKER_POOL_INFO,
  help: workerPoolHelp,
  async run(args, ctx) {
    let flags: PoolFlags;
    try {
      flags = parseFlags(args);
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.USAGE;
    }
    if (flags.help) {
      ctx.out(workerPoolHelp(ctx));
      return EXIT.OK;
    }
    const say = (line: string): void => ctx.err(`sluice worker-pool: ${line}\n`);
    let pool: Awaited<ReturnType<typeof startProcessPool>>;
    try {
      pool = await startProcessPool({
        host: flags.host,
        port: flags.port,
        ...(flags.maxWorkers === undefined ? {} : { maxWorkers: flags.maxWorkers }),
        ...(flags.connectTimeoutMs === undefined ? {} : { workerConnectTimeoutMs: flags.connectTimeoutMs }),
        log: say,
        output: (id, stream, line) => (stream === "stdout" ? ctx.out : ctx.err)(`[worker ${id}] ${line}\n`),
      });
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.FAILURE;
    }
    if (!isLoopbackHost(flags.host)) {
      say(
        `warning: listening on ${pool.address.address}, which other machines can reach. Whoever can connect can make this ` +
          "pool run code (a worker runs the pipeline the requesting runner serves), over unauthenticated plaintext gRPC: " +
          "expose it only on a network you trust.",
      );
    }
    say(`at most ${pool.maxWorkers} worker${pool.maxWorkers === 1 ? "" : "s"} at once (--max-workers); scratch directory ${pool.scratchDir}`);
    // Handlers first: whoever reads the ready line may signal at once, and must get a clean stop.
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    ctx.out(`sluice worker-pool: listening on ${pool.address.address}\n`);

    const signal = await stopSignal;
    const running = pool.workerIds().length;
    say(`${signal}: stopping${running > 0 ? ` ${running} worker${running === 1 ? "" : "s"} and` : ""} the pool (${signal === "SIGINT" ? "Ctrl-C" : "SIGTERM"} again to exit at once)`);
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
    await pool.close();
    say("stopped");
    return EXIT.OK;
  },
};

function workerPoolHelp(ctx: CliContext): string {
  return [
    `sluice ${ctx.version}`,
    "",
    `Usage: sluice worker-pool ${SYNOPSIS}`,
    "",
    "Serves Beam's worker pool API (BeamFnExternalWorkerPool) for pipelines submitted with",
    "--environment_type=EXTERNAL --environment_config=<host:port of this pool>. A runner (Beam's",
    "Flink job server, Prism) asks the pool for SDK workers; each is a child process that fetches the",
    "pipeline file `sluice run` shipped with the job and runs its bundles. One crashing worker",
    "does not affect the others; each exit is logged with its exit code and last stderr lines.",
    "Ctrl-C stops the pool and its workers; workers also die when the pool is killed, and a pool",
    "killed outright leaves a scratch directory that the next pool removes.",
    "",
    "Options:",
    `  --port N          port to listen on (default ${DEFAULT_PORT}; 0 picks a free one, printed when ready)`,
    "  --host ADDRESS    interface to bind (default 127.0.0.1). Anything else is reachable from other",
    "                    machines, and whoever connects can make the pool run code: use it only on a",
    "                    trusted network (e.g. --host 0.0.0.0 for TaskManagers on other hosts)",
    `  --max-workers N   most workers running at once (default here: ${defaultMaxWorkers()}, that is 4 per CPU but`,
    "                    at most one per 512 MB of memory). A runner asking for more gets an error",
    "                    naming the cap (its job's environment fails) instead of the machine running out of memory",
    "  --worker-connect-timeout SECONDS",
    `                    how long a worker waits for each of the runner's endpoints (provision, control,`,
    `                    logging, artifact) before it logs which one is unreachable and exits (default ${DEFAULT_WORKER_CONNECT_TIMEOUT_MS / 1000})`,
    "  -h, --help        show this help",
    "",
    "When ready it prints: sluice worker-pool: listening on <host>:<port>",
    "",
    "Example:",
    "  sluice worker-pool --port 50000 &",
    "  sluice run wordcount.ts --runner=flink --environment_type=EXTERNAL --environment_config=localhost:50000",
    "",
  ].join("\n");
}

const COMMAND = "sluice worker-pool";

function parseFlags(args: readonly string[]): PoolFlags {
  const parsed = parseCommandArgs(args, {
    command: COMMAND,
    flags: {
      port: { type: "string", value: "N" },
      host: { type: "string", value: "ADDRESS" },
      "max-workers": { type: "string", value: "N", aliases: ["max_workers"] },
      "worker-connect-timeout": { type: "string", value: "SECONDS", aliases: ["worker_connect_timeout"] },
    },
  });
  const shown = (value: string): string => (value.length > 100 ? `${value.slice(0, 100)}…` : value);
  const flags: PoolFlags = { help: parsed.has("help"), port: DEFAULT_PORT, host: parsed.string("host") ?? "127.0.0.1", maxWorkers: undefined, connectTimeoutMs: undefined };
  const port = parsed.string("port");
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      throw argsError(`--port must be a whole number from 0 to 65535, not "${shown(port)}"`, COMMAND, "write --port 50000, or --port 0 for a free port");
    }
    flags.port = Number(port);
  }
  const max = parsed.string("max-workers");
  if (max !== undefined) {
    const n = Number(max);
    if (!/^\d+$/.test(max) || n < 1 || !Number.isSafeInteger(n)) {
      throw argsError(`--max-workers must be a whole number of at least 1, not "${shown(max)}"`, COMMAND, `write e.g. --max-workers 8 (the default here is ${defaultMaxWorkers()})`);
    }
    flags.maxWorkers = n;
  }
  const timeout = parsed.string("worker-connect-timeout");
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!/^\d+(\.\d+)?$/.test(timeout) || !(seconds > 0) || seconds > 86_400) {
      throw argsError(
        `--worker-connect-timeout must be a number of seconds above 0 and at most 86400, not "${shown(timeout)}"`,
        COMMAND,
        `write e.g. --worker-connect-timeout 120 (seconds; the default is ${DEFAULT_WORKER_CONNECT_TIMEOUT_MS / 1000})`,
      );
    }
    flags.connectTimeoutMs = Math.max(1, Math.round(seconds * 1000));
  }
  return flags;
}
