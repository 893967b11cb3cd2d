import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { REALWORLD_DIR, SHARED_REALWORLD_DIR } from '../support/paths.js';

/** The vendored RealWorld files are the public contract, unmodified. */
describe('vendor/realworld', () => {
  const files = readdirSync(REALWORLD_DIR).sort();

  it('holds the contract and the conformance suite', () => {
    expect(files).toEqual(['Conduit.postman_collection.json', 'README.md', 'openapi.yml']);
    const spec = parseYaml(readFileSync(path.join(REALWORLD_DIR, 'openapi.yml'), 'utf8')) as {
      info: { title: string };
      paths: object;
    };
    expect(spec.info.title).toMatch(/Conduit/);
    expect(Object.keys(spec.paths)).toContain('/articles');
    const suite = JSON.parse(
      readFileSync(path.join(REALWORLD_DIR, 'Conduit.postman_collection.json'), 'utf8'),
    ) as { item: unknown[] };
    expect(suite.item.length).toBeGreaterThan(0);
  });

  it('is byte-identical to the team copy beside the repository, where one exists', () => {
    const shared = existsSync(SHARED_REALWORLD_DIR) ? readdirSync(SHARED_REALWORLD_DIR).sort() : [];
    for (const name of shared) {
      expect(readFileSync(path.join(REALWORLD_DIR, name))).toEqual(
        readFileSync(path.join(SHARED_REALWORLD_DIR, name)),
      );
    }
    // Without a team copy (a GitHub clone) the first test alone vouches for the files.
    expect(shared.length === 0 || shared.join() === files.join()).toBe(true);
  });
});
