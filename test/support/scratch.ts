import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropSchema } from './postgres.js';

/**
 * Scratch space a spec file cleans up after itself: temporary directories and PostgreSQL schemas,
 * each named for this run (`prefix`: lower-case letters and `_`), removed after all its tests.
 */
export function scratch(prefix: string): { dir(): string; schema(): string } {
  const run = randomBytes(4).toString('hex');
  const dirs: string[] = [];
  const schemas: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const schema of schemas) await dropSchema(schema);
  });
  return {
    dir() {
      const dir = mkdtempSync(join(tmpdir(), `payguard-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    schema() {
      const schema = `payguard_${prefix}_${run}_${schemas.length + 1}`;
      schemas.push(schema);
      return schema;
    },
  };
}
