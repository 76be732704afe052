/** The package version, read from package.json at run time (from cli/ in the source tree or dist/cli/ when built). */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'lsvd';
/** cli/ is one level below the package root in the source tree, two in dist/. */
const PACKAGE_SEARCH_DEPTH_MAX = 4;

export function readPackageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < PACKAGE_SEARCH_DEPTH_MAX; depth++) {
    directory = dirname(directory);
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json at this level: keep climbing.
    }
  }
  return 'unknown';
}
