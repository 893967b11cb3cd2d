/**
 * `npm run cost:docs`: rewrites the generated cost tables in docs/infra.md (between the
 * `<!-- cost:<env> -->` and `<!-- /cost:<env> -->` markers) from freshly synthesized templates.
 * A test fails while the docs and the generated tables differ.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_NAMES } from '../lib/config.js';
import { estimateCost, formatCostTable } from '../lib/cost.js';
import { REPO_ROOT } from '../lib/stacks/app-stack.js';
import { synthesizeEnvironment } from '../lib/synthesize.js';

const docsPath = join(REPO_ROOT, 'docs', 'infra.md');
let docs = readFileSync(docsPath, 'utf8');
for (const envName of ENV_NAMES) {
  const outdir = mkdtempSync(join(tmpdir(), `plinth-cost-${envName}-`));
  try {
    const { config, templates } = synthesizeEnvironment({ envName, outdir });
    const table = formatCostTable(estimateCost(config, templates));
    const block = new RegExp(
      `(<!-- cost:${envName} -->\\n)(?:[\\s\\S]*?\\n)?(<!-- /cost:${envName} -->)`,
    );
    if (!block.test(docs)) throw new Error(`docs/infra.md has no <!-- cost:${envName} --> block`);
    // prettier would re-pad the table; the docs must hold exactly what the code prints.
    docs = docs.replace(
      block,
      (_m, open: string, close: string) =>
        `${open}<!-- prettier-ignore-start -->\n${table}\n<!-- prettier-ignore-end -->\n${close}`,
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
writeFileSync(docsPath, docs);
console.log('docs/infra.md: cost tables regenerated');
