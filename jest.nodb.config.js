// The tests that need no PostgreSQL or Redis: what the deployment pipeline's synth step runs
// (`npm run test:nodb`). The database-backed suites are GitHub CI's job (docs/operations.md).
// Files are listed, not matched by pattern, so a new database-backed test cannot slip in; a
// test (infra/test/nodb-selection.test.ts) checks that none of them reaches for a database.
import config from './jest.config.js';

const project = (name) => config.projects.find((p) => p.displayName === name);

/** Test files of the `service` and `loadtests` projects that need no database. */
export const NO_DATABASE_TESTS = [
  'service/test/toolchain.test.ts',
  'service/test/contract/vendored-contract.test.ts',
  'service/test/db/expand-only.test.ts',
  'service/test/db/replicas.test.ts',
  'service/test/http/body-routes.test.ts',
  'service/test/json-text.test.ts',
  'service/test/logging/logger.test.ts',
  'service/test/graphql/sdl.test.ts',
  'service/test/ops/docker-image.test.ts',
  'service/test/server/config.test.ts',
  'loadtests/test/bundles.test.ts',
  'loadtests/test/data.test.ts',
  'loadtests/test/mix.test.ts',
  'loadtests/test/profiles.test.ts',
  'loadtests/test/shapes.test.ts',
  'loadtests/test/summary.test.ts',
];

/** @type {import('jest').Config} */
export default {
  reporters: config.reporters,
  projects: [
    // Every infra test: stacks, cdk-nag, workflows, release programs against mocked AWS clients.
    project('infra'),
    ...['service', 'loadtests'].map((name) => ({
      ...project(name),
      testMatch: NO_DATABASE_TESTS.filter((f) => f.startsWith(`${name}/`)).map(
        (f) => `<rootDir>/${f}`,
      ),
    })),
  ],
};
