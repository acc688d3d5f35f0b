import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` on one pooled connection between `begin` and COMMIT; when it throws, rolls back and
 * passes the error on. A connection that cannot roll back is destroyed, never returned to the pool.
 * Used by every PostgreSQL adapter (event store, its migrations, the report tables).
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
