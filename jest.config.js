// One jest run, one project per top-level package. ESM throughout (see docs/decisions.md):
// @swc/jest compiles TypeScript to ES modules and jest runs them with --experimental-vm-modules.
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2024' },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

/** @type {import('jest').Config} */
export default {
  // Tests and hooks start real servers; on a loaded 2-core machine a test server's start alone
  // has taken 3-11 s, so jest's 5 s default fails healthy tests. Tests that need longer say so.
  testTimeout: 30_000,
  // Jest's reporter and summary, with test reports printed as plain lines (jest.reporter.js).
  reporters: ['<rootDir>/jest.reporter.js', 'summary'],
  projects: [
    { ...base, displayName: 'service', roots: ['<rootDir>/service/test'] },
    { ...base, displayName: 'worker', roots: ['<rootDir>/worker/test'] },
    { ...base, displayName: 'infra', roots: ['<rootDir>/infra/test'] },
    { ...base, displayName: 'loadtests', roots: ['<rootDir>/loadtests/test'] },
  ],
};
