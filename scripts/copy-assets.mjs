/**
 * Part of `npm run build`: copies the files tsc does not emit (the dashboard's page) next to the
 * compiled modules that serve them (`dist/src/dashboard/public/`).
 */
import { cpSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'src/dashboard/public'), join(root, 'dist/src/dashboard/public'), {
  recursive: true,
});
