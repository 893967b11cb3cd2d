import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (this file is service/test/support/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** `shared/` sits beside the repository (a fresh CI clone gets a copy there too). */
export const SHARED_DIR = process.env.PLINTH_SHARED_DIR ?? path.resolve(REPO_ROOT, '../shared');
