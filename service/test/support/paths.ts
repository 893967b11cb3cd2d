import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (this file is service/test/support/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The RealWorld contract and conformance suite, vendored unmodified in `vendor/realworld/` so a
 * clone anywhere (GitHub CI, the pipeline) has them; `PLINTH_REALWORLD_DIR` points elsewhere.
 */
export const REALWORLD_DIR =
  process.env.PLINTH_REALWORLD_DIR ?? path.join(REPO_ROOT, 'vendor', 'realworld');

/** The team's shared copy beside the repository, when there is one (the vendored copy's source). */
export const SHARED_REALWORLD_DIR = path.resolve(REPO_ROOT, '../shared/realworld');
