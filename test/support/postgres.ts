/** Where the PostgreSQL tests find their server, and what they do when there is none. */
import pg from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** Null when PostgreSQL answers; otherwise why not. Under CI an unreachable server is a failure, not a skip. */
export async function postgresUnreachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    const reason = `PostgreSQL unreachable at ${DATABASE_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}: ${(error as Error).message}`;
    if (process.env.CI) throw new Error(`${reason} (CI must run the PostgreSQL tests)`);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
