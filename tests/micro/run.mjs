// Run polekit's MicroPython code on the real MicroPython interpreter (WebAssembly port).
//
//   node tests/micro/run.mjs                   run every tests/micro/test_*.py, exit 1 on failure
//   node tests/micro/run.mjs test_crc ...      run some of them
//   node tests/micro/run.mjs --script FILE.py  run one script (benchmarks, byte captures)
//
// The sources are copied into the interpreter's VFS under /lib with the repository's layout
// (protocol/core, edge/micro, tests/micro); the parent packages get empty __init__.py files,
// as on a board. /work is an empty writable directory for ring files and config state.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const SOURCES = ["protocol/core", "edge/micro", "tests/micro"];
const HARDWARE_ONLY = new Set(["edge/micro/board.py"]); // imports machine/network/umqtt
const PACKAGES = ["protocol", "edge", "tests"];

const args = process.argv.slice(2);
let script = null;
const modules = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--script") script = args[++i];
  else modules.push(args[i]);
}

let failedLine = null;
const mp = await loadMicroPython({
  stdout: (line) => {
    if (/^\d+ passed, \d+ failed$/.test(line)) failedLine = line;
    console.log(line);
  },
  stderr: (line) => console.error(line),
});

function mkdirs(path) {
  let current = "";
  for (const part of path.split("/").filter(Boolean)) {
    current += "/" + part;
    try {
      mp.FS.mkdir(current);
    } catch {
      // exists
    }
  }
}

mkdirs("/work");
for (const pkg of PACKAGES) {
  mkdirs(`/lib/${pkg}`);
  mp.FS.writeFile(`/lib/${pkg}/__init__.py`, "");
}
for (const folder of SOURCES) {
  mkdirs(`/lib/${folder}`);
  for (const name of readdirSync(join(repo, folder))) {
    const rel = `${folder}/${name}`;
    if (name.endsWith(".py") && !HARDWARE_ONLY.has(rel)) {
      mp.FS.writeFile(`/lib/${rel}`, readFileSync(join(repo, rel)));
    }
  }
}
mp.runPython("import sys\nsys.path.insert(0, '/lib')");

try {
  if (script !== null) {
    mp.runPython(readFileSync(script, "utf8"));
    process.exit(0);
  }
  const names = modules.length
    ? modules
    : readdirSync(join(repo, "tests/micro"))
        .filter((n) => /^test_.*\.py$/.test(n))
        .map((n) => n.slice(0, -3))
        .sort();
  const list = names.map((n) => `"tests.micro.${n}"`).join(", ");
  mp.runPython(`from tests.micro.runner import run\nrun([${list}])`);
} catch (error) {
  console.error(String(error));
  process.exit(2);
}
process.exit(failedLine !== null && failedLine.endsWith(" 0 failed") ? 0 : 1);
