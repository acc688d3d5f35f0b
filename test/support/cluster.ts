/**
 * Payguard instances on one PostgreSQL schema and one standalone sandbox provider (which, like a
 * real provider, outlives any instance): the set-up of the multi-instance e2e tests. Call it in a
 * describe block: it registers the beforeAll that starts the provider and the afterAll that kills
 * every process it started and drops the schema.
 */
import { randomBytes } from 'node:crypto';
import { MAIN, SANDBOX_MAIN, ensureBuilt, spawnService, type ServiceProcess } from './processes.js';
import { DATABASE_URL, dropSchema } from './postgres.js';

export interface PostgresCluster {
  /** The schema every instance shares. */
  readonly schema: string;
  /** The provider (available once beforeAll has run). */
  gateway(): ServiceProcess;
  /** Starts an instance on the shared schema and provider, with `env` on top of the common settings. */
  startInstance(name: string, env?: Readonly<Record<string, string>>): Promise<ServiceProcess>;
}

export function postgresCluster(schemaPrefix: string): PostgresCluster {
  const schema = `${schemaPrefix}_${randomBytes(4).toString('hex')}`;
  const processes: ServiceProcess[] = [];
  let gateway: ServiceProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    gateway = await spawnService('sandbox', SANDBOX_MAIN, { SANDBOX_NOTIFY_DELAY_MS: '0' }, { portVariable: 'SANDBOX_PORT', readyPath: '/sandbox/faults' });
    processes.push(gateway);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((process) => process.kill()));
    await dropSchema(schema);
  });

  const started = (): ServiceProcess => {
    if (gateway === undefined) throw new Error('the cluster is used before its beforeAll ran');
    return gateway;
  };

  return {
    schema,
    gateway: started,
    async startInstance(name, env = {}) {
      const instance = await spawnService(name, MAIN, {
        EVENT_STORE: 'postgres',
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        SANDBOX_GATEWAY_URL: `${started().url}/sandbox`,
        SANDBOX_NOTIFY_DELAY_MS: '0',
        RECONCILE_INTERVAL_SECONDS: '2',
        ...env,
      });
      processes.push(instance);
      return instance;
    },
  };
}
