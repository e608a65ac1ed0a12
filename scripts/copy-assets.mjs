/**
 * Part of `npm run build`: copies the files tsc does not emit next to the compiled modules that
 * use them: the dashboard's page (`dist/src/dashboard/public/`) and the SQLite store's plain
 * JavaScript modules with their types (`sql-runner.mjs`, run on the caller's thread and on the
 * store's worker thread, and `sql-worker.mjs`, that thread's entry).
 */
import { cpSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'src/dashboard/public'), join(root, 'dist/src/dashboard/public'), {
  recursive: true,
});
const sqlite = 'src/stores/sqlite';
for (const name of readdirSync(join(root, sqlite))) {
  if (name.endsWith('.mjs') || name.endsWith('.d.mts')) {
    cpSync(join(root, sqlite, name), join(root, 'dist', sqlite, name));
  }
}
