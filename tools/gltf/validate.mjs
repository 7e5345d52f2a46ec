// Validate glTF/GLB files with the Khronos glTF validator; prints one JSON report per file:
//   node tools/gltf/validate.mjs FILE... -> {"file", "errors", "warnings", "infos", "messages": [...]}
// Exit status 1 when any file has errors.
import { readFileSync } from "node:fs";
import { validateBytes } from "gltf-validator";

let failed = false;
for (const file of process.argv.slice(2)) {
  const report = await validateBytes(new Uint8Array(readFileSync(file)), { maxIssues: 100 });
  const { numErrors, numWarnings, numInfos, messages } = report.issues;
  console.log(JSON.stringify({ file, errors: numErrors, warnings: numWarnings, infos: numInfos, messages }));
  failed ||= numErrors > 0;
}
process.exit(failed ? 1 : 0);
