#!/usr/bin/env node
// Generates TypeScript (protobuf-es v2) from Beam's .proto files in build/beam-model/ into
// src/model/gen/. Generated code is a build product: gitignored, never committed. Runs during
// `npm ci` (the `prepare` script) after scripts/fetch-beam-model.mjs, and is skipped quickly when
// src/model/gen/ is up to date (same protos, same generator versions, same options, same script).
//
// Tools: `buf generate` (@bufbuild/buf; its binary ships as an npm optional dependency, so this
// works offline from the registry, and it bundles Google's well-known types that Beam's protos
// import) running the protoc-gen-es plugin under this Node. Well-known types are imported from
// `@bufbuild/protobuf/wkt` by the generated code, not generated here.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const started = performance.now();
const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), "..");
const protoDir = join(root, "build", "beam-model");
const modelDir = join(root, "src", "model");
const outDir = join(modelDir, "gen");
const stampName = ".stamp.json";
const stampFile = join(outDir, stampName);
/** protoc-gen-es options: TypeScript output with `.js` import suffixes (NodeNext ESM). */
const pluginOptions = ["target=ts", "import_extension=js"];

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const { beam } = JSON.parse(readFileSync(join(root, "versions.json"), "utf8"));

function fail(message) {
  console.error(`sluice: ${message}`);
  process.exit(1);
}

/** Every file under dir (recursively), as sorted paths relative to dir with '/' separators. */
function listFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join("/"))
    .sort();
}

// 1. The inputs must be there, at the pinned Beam version.
const fetchHint = "Run `node scripts/fetch-beam-model.mjs` (or `npm run prepare`, which fetches them with Maven) first.";
const versionFile = join(protoDir, "VERSION");
if (!existsSync(versionFile)) {
  fail(`Beam's .proto files are missing: ${relative(root, protoDir)}/ does not exist or is incomplete. ${fetchHint}`);
}
const fetched = readFileSync(versionFile, "utf8").trim();
if (fetched !== beam) {
  fail(`${relative(root, protoDir)}/ holds Beam ${fetched}, but versions.json pins ${beam}. ${fetchHint}`);
}
const protos = listFiles(protoDir).filter((f) => f.endsWith(".proto"));
if (protos.length === 0) {
  fail(`no .proto files under ${relative(root, protoDir)}/. ${fetchHint}`);
}

// 2. Skip when the output was generated from exactly these inputs.
const hash = createHash("sha256");
hash.update(readFileSync(self));
hash.update(JSON.stringify({
  beam,
  buf: pkg.devDependencies?.["@bufbuild/buf"],
  protocGenEs: pkg.devDependencies?.["@bufbuild/protoc-gen-es"],
  protobuf: pkg.dependencies?.["@bufbuild/protobuf"],
  pluginOptions,
}));
for (const file of protos) {
  hash.update(`\0${file}\0`);
  hash.update(readFileSync(join(protoDir, file)));
}
const key = hash.digest("hex");
try {
  const stamp = JSON.parse(readFileSync(stampFile, "utf8"));
  if (stamp.key === key && Array.isArray(stamp.files) && stamp.files.every((f) => existsSync(join(outDir, f)))) {
    process.exit(0);
  }
} catch {
  // No stamp (or an unreadable one): generate.
}

// 3. Generate into a temporary directory next to the output, then swap it in.
const require = createRequire(import.meta.url);
let bufCli;
let protocGenEs;
try {
  bufCli = require.resolve("@bufbuild/buf/bin/buf");
  protocGenEs = require.resolve("@bufbuild/protoc-gen-es/bin/protoc-gen-es");
} catch {
  fail("cannot find @bufbuild/buf or @bufbuild/protoc-gen-es (devDependencies). Run `npm ci` (without --omit=dev), then `npm run prepare`.");
}
for (const name of readdirSync(modelDir)) {
  if (name.startsWith("gen.tmp-")) rmSync(join(modelDir, name), { recursive: true, force: true });
}
const tmp = `${outDir}.tmp-${process.pid}`;
const template = {
  version: "v2",
  plugins: [{ local: [process.execPath, protocGenEs], out: tmp, opt: pluginOptions }],
};
console.log(`sluice: generating TypeScript from Beam ${beam}'s ${protos.length} .proto files into ${relative(root, outDir)}/`);
try {
  await run(process.execPath, [bufCli, "generate", protoDir, "--template", JSON.stringify(template)], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
} catch (err) {
  rmSync(tmp, { recursive: true, force: true });
  const output = err && typeof err === "object" ? `${err.stderr ?? ""}${err.stdout ?? ""}`.trim() : "";
  fail(
    `\`buf generate\` failed on ${relative(root, protoDir)}/ (buf ${pkg.devDependencies?.["@bufbuild/buf"]}, protoc-gen-es ${pkg.devDependencies?.["@bufbuild/protoc-gen-es"]}).\n` +
      `${output || String(err)}\n` +
      "If the protos are damaged, delete build/beam-model/ and run `npm run prepare` again.",
  );
}
const files = existsSync(tmp) ? listFiles(tmp) : [];
if (!files.some((f) => f.endsWith("_pb.ts"))) {
  rmSync(tmp, { recursive: true, force: true });
  fail(`\`buf generate\` produced no TypeScript from ${relative(root, protoDir)}/. Delete it and run \`npm run prepare\` again.`);
}
writeFileSync(join(tmp, stampName), `${JSON.stringify({ key, beam, files }, null, 2)}\n`);
rmSync(outDir, { recursive: true, force: true });
renameSync(tmp, outDir);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`sluice: generated ${files.length} files in ${relative(root, outDir)}/ (${seconds} s)`);
