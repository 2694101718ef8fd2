/**
 * `sluice kafka topics|produce|consume`: small commands for trying the cluster's Kafka broker by
 * hand (`sluice cluster up --kafka`), or any broker with --bootstrap_servers. Each runs one of
 * Kafka's own tool classes (TopicCommand, ConsoleProducer, ConsoleConsumer) on the Kafka classpath
 * cached in the tool cache (src/cluster/kafka.ts), after checking that the broker answers. Argument
 * parsing and relaying only.
 */
import { spawn } from "node:child_process";
import { SluiceError } from "../../internal/errors.js";
import { withParentDeath } from "../../internal/process.js";
import { KAFKA_CLASSES, kafkaClasspath, kafkaToolLaunch, type KafkaTarget, resolveKafkaTarget } from "../../cluster/kafka.js";
import { stackVersions } from "../../cluster/versions.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { type FlagSpec, type ParsedArgs, parseCommandArgs } from "../args.js";
import { commandGroup, usageError } from "../subcommands.js";

const TOPICS_USAGE = "sluice kafka topics [--create NAME [--partitions N] [--replication-factor R] | --describe NAME | --delete NAME] [--bootstrap_servers H:P]";
const PRODUCE_USAGE = "sluice kafka produce TOPIC [--key-separator SEP] [--bootstrap_servers H:P]   (one record per line of stdin)";
const CONSUME_USAGE =
  "sluice kafka consume TOPIC [--from-beginning] [--max-messages N] [--timeout-ms MS] [--print-key] [--key-separator SEP] [--partition P] [--group G] [--bootstrap_servers H:P]";

const BOOTSTRAP: Record<string, FlagSpec> = { bootstrap_servers: { type: "string", aliases: ["bootstrap-servers"], value: "host:port[,host:port…]" } };

function parse(args: readonly string[], usage: string, flags: Record<string, FlagSpec>, maxPositionals = 0): ParsedArgs {
  return parseCommandArgs(args, { command: usage.split(" ").slice(0, 3).join(" "), flags: { ...BOOTSTRAP, ...flags }, maxPositionals });
}

/** Kafka's rule for topic names: 1–249 of [a-zA-Z0-9._-], not "." or "..". */
function checkTopic(name: string | undefined, usage: string): string {
  if (name === undefined || name === "") throw usageError("name the topic", usage);
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(name) || name === "." || name === "..") {
    throw usageError(`"${name}" is not a legal Kafka topic name (1 to 249 of a-z, A-Z, 0-9, ".", "_", "-")`, usage);
  }
  return name;
}

function intValue(flags: ParsedArgs, name: string, min: number, max: number, usage: string): number | undefined {
  const raw = flags.string(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw usageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`, usage);
  return n;
}

/** The broker to use (the running cluster's, or --bootstrap_servers), checked to answer. */
async function target(flags: ParsedArgs, ctx: CliContext): Promise<KafkaTarget> {
  let pinned: string | undefined;
  try {
    pinned = stackVersions().kafka;
  } catch {
    pinned = undefined;
  }
  return resolveKafkaTarget(ctx.env, pinned, flags.string("bootstrap_servers"));
}

/**
 * Runs a Kafka tool class on the cached classpath: stdin passed through when `stdin`, its output
 * relayed; resolves to its exit code. Ctrl-C (or a signal to this process, forwarded) stops the tool
 * cleanly (the consumer prints its count); this command waits for it. The tool dies with this process.
 */
async function runTool(t: KafkaTarget, mainClass: string, args: readonly string[], ctx: CliContext, stdin: boolean): Promise<number> {
  const classpath = await kafkaClasspath(t.version, (m) => ctx.err(`sluice kafka: ${m}\n`), ctx.env);
  const launch = kafkaToolLaunch(classpath, mainClass, ["--bootstrap-server", t.bootstrapServers, ...args]);
  const [cmd, argv] = withParentDeath(launch.command, launch.args);
  const child = spawn(cmd, argv, { env: ctx.env as NodeJS.ProcessEnv, cwd: ctx.cwd, stdio: [stdin ? "inherit" : "ignore", "pipe", "pipe"] });
  child.stdout.on("data", (b: Buffer) => ctx.out(b.toString("utf8")));
  child.stderr.on("data", (b: Buffer) => ctx.err(b.toString("utf8")));
  // Also when only this process was signalled (kill -INT): the tool stops cleanly, then so do we.
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", (err) =>
        reject(new SluiceError("UNAVAILABLE", `could not run java for Kafka's ${mainClass}: ${err.message}`, { hint: "Install a JDK 17 and put java on PATH (sluice doctor checks it).", cause: err })),
      );
      child.once("close", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : EXIT.FAILURE)));
    });
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}

async function topics(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, TOPICS_USAGE, {
    create: { type: "string", value: "NAME" },
    describe: { type: "string", value: "NAME" },
    delete: { type: "string", value: "NAME" },
    partitions: { type: "string", value: "N" },
    "replication-factor": { type: "string", value: "R" },
  });
  if (flags.has("help")) {
    ctx.out(kafkaHelp(ctx));
    return EXIT.OK;
  }
  const actions = ["create", "describe", "delete"].filter((a) => flags.has(a));
  if (actions.length > 1) throw usageError(`give one of --create, --describe, --delete, not ${actions.map((a) => `--${a}`).join(" and ")}`, TOPICS_USAGE);
  const partitions = intValue(flags, "partitions", 1, 100_000, TOPICS_USAGE);
  const replication = intValue(flags, "replication-factor", 1, 32_767, TOPICS_USAGE);
  if ((partitions !== undefined || replication !== undefined) && actions[0] !== "create") {
    throw usageError("--partitions and --replication-factor go with --create NAME", TOPICS_USAGE);
  }
  const action = actions[0];
  let toolArgs: string[];
  if (action === undefined) toolArgs = ["--list", "--exclude-internal"];
  else {
    const name = checkTopic(flags.string(action), TOPICS_USAGE);
    toolArgs = [`--${action}`, "--topic", name];
    if (partitions !== undefined) toolArgs.push("--partitions", String(partitions));
    if (replication !== undefined) toolArgs.push("--replication-factor", String(replication));
  }
  const t = await target(flags, ctx);
  const code = await runTool(t, KAFKA_CLASSES.topics, toolArgs, ctx, false);
  return code === 0 ? EXIT.OK : EXIT.FAILURE;
}

async function produce(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, PRODUCE_USAGE, { "key-separator": { type: "string", value: "SEP" } }, 1);
  if (flags.has("help")) {
    ctx.out(kafkaHelp(ctx));
    return EXIT.OK;
  }
  const topic = checkTopic(flags.positionals[0], PRODUCE_USAGE);
  const sep = flags.string("key-separator");
  if (sep === "") throw usageError("--key-separator must not be empty", PRODUCE_USAGE);
  const toolArgs = ["--topic", topic];
  if (sep !== undefined) toolArgs.push("--property", "parse.key=true", "--property", `key.separator=${sep}`);
  const t = await target(flags, ctx);
  const code = await runTool(t, KAFKA_CLASSES.producer, toolArgs, ctx, true);
  return code === 0 ? EXIT.OK : EXIT.FAILURE;
}

async function consume(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(
    args,
    CONSUME_USAGE,
    {
      "from-beginning": { type: "boolean" },
      "max-messages": { type: "string", value: "N" },
      "timeout-ms": { type: "string", value: "MS" },
      "print-key": { type: "boolean" },
      "key-separator": { type: "string", value: "SEP" },
      partition: { type: "string", value: "P" },
      group: { type: "string", value: "G" },
    },
    1,
  );
  if (flags.has("help")) {
    ctx.out(kafkaHelp(ctx));
    return EXIT.OK;
  }
  const topic = checkTopic(flags.positionals[0], CONSUME_USAGE);
  const max = intValue(flags, "max-messages", 1, 2_147_483_647, CONSUME_USAGE);
  const timeout = intValue(flags, "timeout-ms", 1, 2_147_483_647, CONSUME_USAGE);
  const sep = flags.string("key-separator");
  if (sep !== undefined && !flags.has("print-key")) throw usageError("--key-separator goes with --print-key", CONSUME_USAGE);
  const toolArgs = ["--topic", topic];
  if (flags.has("from-beginning")) toolArgs.push("--from-beginning");
  if (max !== undefined) toolArgs.push("--max-messages", String(max));
  if (timeout !== undefined) toolArgs.push("--timeout-ms", String(timeout));
  if (flags.has("print-key")) toolArgs.push("--property", "print.key=true", "--property", `key.separator=${sep ?? "\t"}`);
  const partition = intValue(flags, "partition", 0, 2_147_483_647, CONSUME_USAGE);
  const group = flags.string("group");
  if (partition !== undefined && group !== undefined) throw usageError("--partition reads one partition without a consumer group: leave --group out", CONSUME_USAGE);
  if (partition !== undefined) toolArgs.push("--partition", String(partition));
  if (group !== undefined) toolArgs.push("--group", group);
  const t = await target(flags, ctx);
  // A --timeout-ms that expires ends the consumer normally (Kafka logs a TimeoutException).
  const code = await runTool(t, KAFKA_CLASSES.consumer, toolArgs, ctx, false);
  return code === 0 ? EXIT.OK : EXIT.FAILURE;
}

export const kafkaCommand: Command = commandGroup({
  name: "kafka",
  synopsis: "topics|produce|consume [options]",
  summary: "try the cluster's Kafka broker by hand (sluice cluster up --kafka): list/create topics, produce stdin, consume",
  help: kafkaHelp,
  subcommands: { topics, produce, consume },
});

function kafkaHelp(ctx: CliContext): string {
  return [
    `sluice ${ctx.version}`,
    "",
    "Usage: sluice kafka <subcommand> [options]",
    "",
    "Small commands for trying Kafka by hand. They use the broker of the running `sluice cluster`",
    "(started with --kafka), or the one --bootstrap_servers host:port names, and run Kafka's own tools",
    "(org.apache.kafka.tools.TopicCommand, ConsoleProducer, consumer.ConsoleConsumer) on the Kafka",
    "classpath in the tool cache.",
    "",
    "Subcommands:",
    "  topics    list the topics (internal ones left out)",
    "              --create NAME [--partitions N] [--replication-factor R]   create a topic",
    "              --describe NAME | --delete NAME",
    "  produce   TOPIC: one record per line of stdin, until end of input",
    "              --key-separator SEP   each line is KEY<SEP>VALUE (a line without SEP is an error)",
    "  consume   TOPIC: print records' values, one per line, until Ctrl-C",
    "              --from-beginning      from the earliest offset (default: only new records)",
    "              --max-messages N      stop after N records",
    "              --timeout-ms MS       stop when no record came for MS",
    "              --print-key [--key-separator SEP]   KEY<SEP>VALUE (tab by default)",
    "              --partition P         only partition P (no consumer group)",
    "              --group G             consume as consumer group G (default: a fresh group)",
    "",
    "Every subcommand: --bootstrap_servers host:port[,host:port…] (or --bootstrap-servers) instead of the cluster's broker.",
    "",
    "Example:",
    "  sluice cluster up --kafka --detach",
    "  sluice kafka topics --create events --partitions 2",
    "  printf 'a:1\\nb:2\\n' | sluice kafka produce events --key-separator :",
    "  sluice kafka consume events --from-beginning --max-messages 2 --print-key",
    "",
  ].join("\n");
}
