/**
 * `npm run bench [-- --only <section>[,<section>]]`: benchmarks of the production build, each a
 * section that prints a table and writes its figures as JSON under `.local/bench/`. A section is a
 * named function; add one in its own file and register it in SECTIONS (one line).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../service/test/support/paths.js';
import { graphqlSection } from './graphql.js';
import { jobsSection } from './jobs.js';
import { hostFacts } from './measure.js';
import { notificationsSection } from './notifications.js';
import { readsSection } from './reads.js';
import { replicasSection } from './replicas.js';
import { scaleBenchSection } from './scale.js';
import { telemetrySection } from './telemetry.js';

export interface BenchSection {
  name: string;
  /** What the section measures (printed above its table). */
  description: string;
  /** Runs the section; returns its table (Markdown) and figures (written as JSON). */
  run(): Promise<{ table: string; data: unknown }>;
}

const SECTIONS: BenchSection[] = [
  readsSection,
  replicasSection,
  graphqlSection,
  jobsSection,
  scaleBenchSection,
  telemetrySection,
  notificationsSection,
];

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1]?.split(',') : undefined;
const unknown = only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(
    `unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}
const outDir = path.join(REPO_ROOT, '.local', 'bench');
mkdirSync(outDir, { recursive: true });
const host = hostFacts();
console.log(
  `host: ${host.cpu}, ${host.cpus} CPUs` +
    (host.ptiWithoutPcid
      ? '; page-table isolation without PCID: every system call flushes the TLB'
      : ''),
);
for (const section of SECTIONS.filter((s) => !only || only.includes(s.name))) {
  console.log(`\n## ${section.name}\n\n${section.description}\n`);
  const { table, data } = await section.run();
  console.log(table);
  const file = path.join(
    outDir,
    `${section.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  // Every file says which host measured it (figures differ by host: measure.ts, hostFacts).
  const figures = Array.isArray(data) ? { host, data } : { host, ...(data as object) };
  writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`\n(figures: ${path.relative(REPO_ROOT, file)})`);
}
