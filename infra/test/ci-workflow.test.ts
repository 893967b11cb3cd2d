import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { GITHUB_DEPLOY_ROLE_NAME } from '../lib/stacks/github-deploy-stack.js';
import {
  pinningProblems,
  validateWorkflow,
  validateWorkflowDirectory,
} from '../../scripts/validate-workflows.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKFLOWS = path.join(ROOT, '.github', 'workflows');
const CI_FILE = path.join(WORKFLOWS, 'ci.yml');
const DEPLOY_FILE = path.join(WORKFLOWS, 'deploy.yml');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  if?: string;
  environment?: unknown;
  env?: Record<string, string>;
  'timeout-minutes'?: number;
  services?: unknown;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, Job>;
}

/** A workflow that is wrong in one way per checker. */
const BROKEN = `name: broken
on: [push]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    needs: [build]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@48b55a011bda9f5d6aeb4c2d9c7362e8dae4041e
      - run: echo "\${{ github.shaa }}"
        timout-minutes: 3
`;

describe('workflow validation (npm run lint:workflows)', () => {
  it('passes every workflow in .github/workflows', async () => {
    const { files, problems } = await validateWorkflowDirectory(WORKFLOWS);
    expect(files.map((f) => path.basename(f))).toContain('ci.yml');
    expect(problems).toEqual([]);
  });

  it('when a workflow is broken, then each checker reports what it is there for', async () => {
    const problems = await validateWorkflow('broken.yml', BROKEN);
    const by = (checker: string) =>
      problems.filter((p) => p.checker === checker).map((p) => p.message);

    // actionlint: expressions and their types, job graph, keys.
    expect(by('actionlint')).toEqual(
      expect.arrayContaining([
        expect.stringContaining('property "shaa" is not defined'),
        expect.stringContaining('needs job "build" which does not exist'),
        expect.stringContaining('unexpected key "timout-minutes"'),
      ]),
    );
    // action-validator: the workflow JSON schema.
    expect(by('action-validator').join('\n')).toContain("Additional property 'timout-minutes'");
    // pinning: a tag, and a SHA without the release it pins.
    expect(by('pinning')).toEqual([
      expect.stringContaining('"actions/checkout@v4" must be pinned to a full 40-character'),
      expect.stringContaining('needs the release it pins in a comment'),
    ]);
  });

  it('when a broken workflow is in the directory, then the lint command exits 1 and says where', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plinth-workflows-'));
    try {
      await writeFile(path.join(dir, 'broken.yml'), BROKEN);
      const run = exec(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'scripts/validate-workflows.ts'), dir],
        { cwd: ROOT },
      );
      const failure = await run.then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toMatch(/broken\.yml:13:\d+ \[actionlint\] property "shaa"/);
      expect(failure?.stderr).toMatch(/problem\(s\) in 1 file\(s\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('accepts local actions, docker images and SHA pins with a version comment', () => {
    const text = [
      '      - uses: ./.github/actions/setup',
      '      - uses: docker://alpine:3.20',
      "      - uses: 'grafana/setup-k6-action@db07bd9765aac508ef18982e52ab937fe633a065' # v1.2.1",
    ].join('\n');
    expect(pinningProblems('x.yml', text)).toEqual([]);
  });
});

describe('the CI workflow', () => {
  const workflow = parse(readFileSync(CI_FILE, 'utf8')) as Workflow;
  const jobs = Object.values(workflow.jobs);
  const steps = jobs.flatMap((job) => job.steps);
  const runs = steps.flatMap((s) => (s.run ? [s.run] : []));
  const indexOf = (predicate: (s: Step) => boolean) => steps.findIndex(predicate);

  it('runs on every push and pull request, reads the repository only and cancels superseded runs', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(workflow.concurrency['cancel-in-progress']).toBe(true);
    expect(workflow.concurrency.group).toContain('github.ref');
  });

  it('bounds every job, on an Ubuntu runner, without GitHub service containers', () => {
    for (const job of jobs) {
      expect(job['runs-on']).toMatch(/^ubuntu-/);
      expect(job['timeout-minutes']).toBeGreaterThan(0);
      expect(job.services).toBeUndefined();
    }
  });

  it('sets up Node from .nvmrc with the npm cache, then runs .ci/run before everything else', () => {
    const setupNode = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(setupNode?.with).toEqual({ 'node-version-file': '.nvmrc', cache: 'npm' });
    expect(existsSync(path.join(ROOT, '.nvmrc'))).toBe(true);
    const ciRun = indexOf((s) => s.run === 'bash .ci/run');
    expect(ciRun).toBeGreaterThan(steps.indexOf(setupNode!));
    for (const later of ['npm run synth', 'npm run audit:runtime', 'npm run ci:smoke']) {
      expect({ later, after: indexOf((s) => s.run === later) > ciRun }).toEqual({
        later,
        after: true,
      });
    }
  });

  it('builds the image and runs the k6 smoke with a real k6 installed just before it', () => {
    expect(runs.some((r) => /^docker build\b.* \.$/.test(r))).toBe(true);
    const k6 = indexOf((s) => s.uses?.startsWith('grafana/setup-k6-action@') ?? false);
    expect(k6).toBeGreaterThan(-1);
    expect(indexOf((s) => s.run === 'npm run ci:smoke')).toBe(k6 + 1);
  });

  it('uploads the test log, the k6 summary and cdk.out even when a step failed', () => {
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toContain('!cancelled()');
    const paths = String(upload?.with?.path).split('\n');
    const smoke = steps.find((s) => s.run === 'npm run ci:smoke');
    expect(paths).toEqual(
      expect.arrayContaining([
        '.local/ci-test.log',
        'cdk.out/',
        `${smoke?.env?.SMOKE_REPORT_DIR}/`,
      ]),
    );
    // .ci/run writes the test log there.
    expect(readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toContain('.local/ci-test.log');
  });

  it('calls only npm scripts that exist', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    const called = runs.flatMap((r) => [...r.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    expect(called.length).toBeGreaterThan(0);
    expect(called.filter((name) => !(name in scripts))).toEqual([]);
    expect(scripts['audit:runtime']).toBe('npm audit --omit=dev --audit-level=high');
  });

  it('has Dependabot watch npm and the pinned actions', () => {
    const dependabot = parse(readFileSync(path.join(ROOT, '.github/dependabot.yml'), 'utf8')) as {
      updates: { 'package-ecosystem': string; directory: string }[];
    };
    expect(dependabot.updates.map((u) => [u['package-ecosystem'], u.directory])).toEqual(
      expect.arrayContaining([
        ['npm', '/'],
        ['github-actions', '/'],
      ]),
    );
  });
});

describe('the deploy workflow (deploying from GitHub through OIDC)', () => {
  const workflow = parse(readFileSync(DEPLOY_FILE, 'utf8')) as Workflow;
  const [job, ...others] = Object.values(workflow.jobs);
  const steps = job!.steps;
  const indexOf = (pattern: RegExp) => steps.findIndex((s) => pattern.test(s.run ?? ''));

  it('runs only by hand, on the branch the role trusts, with an OIDC token and read access only', () => {
    expect(others).toEqual([]);
    expect(Object.keys(workflow.on)).toEqual(['workflow_dispatch']);
    expect(workflow.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(job!.if).toBe("github.ref == 'refs/heads/main'");
    // A job environment would make the token's subject `repo:…:environment:…`, which the role refuses.
    expect(job!.environment).toBeUndefined();
    expect(workflow.concurrency['cancel-in-progress']).toBe(false);
  });

  it('assumes the role of the GitHub deploy stack, then snapshots, deploys and runs the k6 smoke', () => {
    const credentials = steps.findIndex((s) =>
      s.uses?.startsWith('aws-actions/configure-aws-credentials@'),
    );
    expect(String(steps[credentials]?.with?.['role-to-assume'])).toMatch(
      new RegExp(`:role/${GITHUB_DEPLOY_ROLE_NAME}$`),
    );
    const snapshot = indexOf(/infra\/release\/snapshot\.ts --instance "plinth-\$\{ENV_NAME\}-db"/);
    const deploy = indexOf(/cdk deploy --all/);
    const smoke = indexOf(/infra\/release\/smoke\.ts .*--profile smoke/);
    expect([credentials, snapshot, deploy, smoke].every((i) => i >= 0)).toBe(true);
    expect(credentials < snapshot && snapshot < deploy && deploy < smoke).toBe(true);
    expect(steps[deploy]?.run).toMatch(/-c env="\$ENV_NAME" -c domainName=.* -c certificateArn=/);
  });

  it('installs the same k6 release as CI and the pipeline', () => {
    const installScript = readFileSync(path.join(ROOT, 'scripts', 'install-k6.sh'), 'utf8');
    const pinned = /^readonly K6_VERSION=(\S+)$/m.exec(installScript)?.[1];
    for (const file of [CI_FILE, DEPLOY_FILE]) {
      const k6 = (parse(readFileSync(file, 'utf8')) as Workflow).jobs;
      const setup = Object.values(k6)
        .flatMap((j) => j.steps)
        .find((s) => s.uses?.startsWith('grafana/setup-k6-action@'));
      expect({ file: path.basename(file), version: setup?.with?.['k6-version'] }).toEqual({
        file: path.basename(file),
        version: pinned,
      });
    }
  });
});
