import { parseArgs } from 'node:util';
import { orderKeyOf } from '../../domain/shared/stream-names.js';
import type { CheckpointStore, EventStore } from '../../application/ports/event-store.port.js';
import { PROJECTION_NAMES, type ProjectionName } from '../../application/ports/projection-store.port.js';
import { ConfigError, loadConfig, type AppConfig } from '../config/config.js';
import { CliError, type CliIo } from './cli-io.js';
import { openExistingStore } from './cli-stores.js';

// Each command loads what it needs when it runs, so a verify of a million events carries no
// projection or HTTP code in its memory.

export const USAGE = `payguard: audit a Payguard event store (the one the service uses: same EVENT_STORE,
DATA_DIR, DATABASE_URL, DATABASE_SCHEMA; or say so with the options below).

  payguard export [--stream <orderId | order-{orderId} | payment-{paymentId}>] [--after <position>] [--since <ISO time>] [--raw]
      The global log (or one stream) as NDJSON, one event a line, in commit order. Data is in the
      current shape (older shapes upcast); --raw gives it as stored. --stream takes a stream name,
      or an order's id (demo-1, or merchantId.orderId): its stream, else the payment of that id.
  payguard verify [--grace <seconds>] [--file <export.ndjson> [--positions gap-free|increasing]] [--json]
      Replays all history through the domain and checks the money invariants (docs/reports.md).
      Exit code 1 when any is broken. --grace (default 300): a repair younger than this, against
      the last event, is open work, not a violation. --file: verify an export instead of a store
      (--positions increasing for an EventStoreDB or PostgreSQL export, whose positions have gaps).
  payguard reconcile [--all] [--grace <seconds>] [--gateway-url <url>] [--json]
      Asks the providers, which hold the money, about every trade the log does not hold final,
      every trade the log says its order keeps, and every refund not settled (--all: every trade
      and refund in history), and reports each difference. Exit code 1 on any, including a provider
      that could not be asked. The channels are the service's (ALIPAY_*, WECHATPAY_*, SANDBOX_*);
      the sandbox gateway is SANDBOX_GATEWAY_URL, else the running service's (PUBLIC_BASE_URL or
      http://127.0.0.1:$PORT, /sandbox), or --gateway-url. --grace (default 300): a capture younger
      than this may still be on its way to the log.
  payguard replay [--projection orders|anomalies|settlement] [--keep] [--json]
      Rebuilds the reporting projections from zero into a scratch place (a temporary SQLite file,
      or a scratch PostgreSQL schema) and compares them row by row with the live ones. Exit code 1
      when they differ. --keep leaves the scratch copy for inspection. Safe with the service running.
      The settlement's days are in REPORT_TIMEZONE (default Asia/Shanghai): set it as the service has it.
  payguard rebuild [--projection ...] [--json]
      Resets the live projections and rebuilds them from the log. Refused while a service holds
      the store (SQLite: the DATA_DIR lock; PostgreSQL: the schema's leader lock): stop it first.
  payguard show order <orderId | merchantId.orderId> [--at <ISO time>]
      The order with its payments and refunds as they stood at that moment (JSON). An order
      placed with a merchant key is named merchantId.orderId (its stream is order-{merchantId}.{orderId}).

Store options (override the environment):
  --store sqlite|postgres   --data-dir <dir>   --database-url <url>   --schema <name>

On a terminal, verify, export, replay and rebuild draw a progress line on stderr (events, rate,
time left); piped or redirected, stderr gets none.

Exit codes: 0 all good, 1 violations or differences found, 2 usage or store error.
`;

const STORE_OPTIONS = {
  store: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs one audit command; resolves with the process exit code. */
export async function runAuditCli(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'export':
        return await exportCommand(rest, env, io);
      case 'verify':
        return await verifyCommand(rest, env, io);
      case 'reconcile':
        return await reconcileCommand(rest, env, io);
      case 'replay':
      case 'rebuild':
        return await projectionsCommand(command, rest, env, io);
      case 'show':
        return await showCommand(rest, env, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        await io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof CliError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`payguard: ${(error as Error).message}\n${error instanceof CliError || error instanceof ConfigError ? '' : `\n${USAGE}`}`);
      return 2;
    }
    io.err(`payguard: ${(error as Error)?.stack ?? String(error)}\n`);
    return 2;
  }
}

async function exportCommand(args: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...STORE_OPTIONS, stream: { type: 'string' }, after: { type: 'string' }, since: { type: 'string' }, raw: { type: 'boolean' } },
  });
  if (values.help) return help(io);
  const stream = values.stream === undefined ? undefined : streamCandidates(values.stream);
  const options = {
    after: values.after === undefined ? undefined : nonNegative('--after', values.after),
    since: values.since === undefined ? undefined : time('--since', values.since),
    raw: values.raw ?? false,
  };
  const { exportLog } = await import('./export.command.js');
  return withStore(values, env, async (store) => {
    const streamName = stream === undefined ? undefined : await firstStreamFound(store, stream);
    const range = streamName === undefined ? { from: options.after ?? 0, to: await store.headPosition() } : null;
    await exportLog(store, { ...options, streamName, range }, io);
    return 0;
  });
}

async function verifyCommand(args: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...STORE_OPTIONS, grace: { type: 'string' }, file: { type: 'string' }, positions: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (values.help) return help(io);
  const options = { graceSeconds: values.grace === undefined ? 300 : nonNegative('--grace', values.grace), json: values.json ?? false };
  const { fileSource, storeSource, verify } = await import('./verify.command.js');
  if (values.file !== undefined) {
    if (values.positions !== undefined && values.positions !== 'gap-free' && values.positions !== 'increasing') {
      throw new CliError('--positions must be gap-free or increasing');
    }
    const outcome = await verify(fileSource(values.file), { ...options, positions: values.positions ?? 'gap-free' }, io);
    return outcome.violationCount === 0 ? 0 : 1;
  }
  return withStore(values, env, async (store, config) => {
    // EventStoreDB's positions are its commit positions, PostgreSQL's come from transaction ids: increasing, with gaps.
    const positions = config.eventStore === 'eventstoredb' || config.eventStore === 'postgres' ? 'increasing' : 'gap-free';
    const outcome = await verify(storeSource(store), { ...options, positions, range: { from: 0, to: await store.headPosition() } }, io);
    return outcome.violationCount === 0 ? 0 : 1;
  });
}

async function reconcileCommand(args: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...STORE_OPTIONS, all: { type: 'boolean' }, grace: { type: 'string' }, 'gateway-url': { type: 'string' }, json: { type: 'boolean' } },
  });
  if (values.help) return help(io);
  const options = { all: values.all ?? false, graceSeconds: values.grace === undefined ? 300 : nonNegative('--grace', values.grace), json: values.json ?? false };
  const { providerChannels, sandboxChannels } = await import('../channels/configured-channels.js');
  const { reconcile } = await import('./reconcile.command.js');
  return withStore(values, env, async (store, config) => {
    const gatewayUrl = (values['gateway-url'] ?? config.sandboxGatewayUrl ?? `${config.publicBaseUrl ?? `http://127.0.0.1:${config.port}`}/sandbox`).replace(/\/+$/, '');
    const channels = [...sandboxChannels(config, gatewayUrl), ...providerChannels(config, () => new Date())];
    const report = await reconcile(store, channels, options, io);
    return report.differences === 0 ? 0 : 1;
  });
}

async function projectionsCommand(
  command: 'replay' | 'rebuild',
  args: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...STORE_OPTIONS, projection: { type: 'string', multiple: true }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (values.help) return help(io);
  const projections = (values.projection ?? [...PROJECTION_NAMES]).map((name) => {
    if (!PROJECTION_NAMES.includes(name as ProjectionName)) throw new CliError(`--projection must be one of ${PROJECTION_NAMES.join(', ')}`);
    return name as ProjectionName;
  });
  const { openLiveProjections, openScratchProjections } = await import('./cli-stores.js');
  const { rebuild, replay } = await import('./replay.command.js');
  const { ReportDays } = await import('../../application/reporting/report-days.js');
  return withStore(values, env, async (store, config) => {
    const hold = command === 'rebuild' ? await (await import('./rebuild-guard.js')).holdForRebuild(config) : null;
    const options = { projections, json: values.json ?? false, days: new ReportDays(config.reportTimeZone) };
    const live = await openLiveProjections(config, store).catch(async (error: unknown) => {
      await hold?.release();
      throw error;
    });
    try {
      if (command === 'rebuild') {
        await rebuild(store, live, options, io);
        return 0;
      }
      const scratch = await openScratchProjections(config);
      try {
        const outcome = await replay(store, live, scratch, { ...options, keep: values.keep ?? false }, io);
        if (values.keep) io.err(`the rebuilt projections are kept in ${scratch.where}\n`);
        return outcome.differences === 0 ? 0 : 1;
      } finally {
        await scratch.dispose(values.keep ?? false);
      }
    } finally {
      await live.close();
      await hold?.release();
    }
  });
}

async function showCommand(args: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { ...STORE_OPTIONS, at: { type: 'string' } }, allowPositionals: true });
  if (values.help) return help(io);
  if (positionals.length !== 2 || positionals[0] !== 'order') throw new CliError('usage: payguard show order <orderId | merchantId.orderId> [--at <ISO time>]');
  const orderId = positionals[1];
  if (orderKeyOf(`order-${orderId}`) === null) throw new CliError('an order is named by its orderId, or merchantId.orderId: 1-64 characters of [A-Za-z0-9_-] each');
  const at = values.at === undefined ? null : time('--at', values.at);
  const { showOrder } = await import('./show.command.js');
  return withStore(values, env, async (store) => {
    await showOrder(store, orderId, at, io);
    return 0;
  });
}

/** Opens the store the options and environment name, runs `work`, and closes it. */
async function withStore(
  values: { store?: string; 'data-dir'?: string; 'database-url'?: string; schema?: string },
  env: Record<string, string | undefined>,
  work: (store: EventStore & CheckpointStore, config: AppConfig) => Promise<number>,
): Promise<number> {
  const config = loadConfig({
    ...env,
    ...(values.store !== undefined && { EVENT_STORE: values.store }),
    ...(values['data-dir'] !== undefined && { DATA_DIR: values['data-dir'] }),
    ...(values['database-url'] !== undefined && { DATABASE_URL: values['database-url'] }),
    ...(values.schema !== undefined && { DATABASE_SCHEMA: values.schema }),
    // A database URL alone means PostgreSQL, as an auditor given only that would expect.
    ...(values['database-url'] !== undefined && values.store === undefined && { EVENT_STORE: 'postgres' }),
  });
  const store = await openExistingStore(config);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

async function help(io: CliIo): Promise<number> {
  await io.out(USAGE);
  return 0;
}

const PAYMENT_STREAM = /^payment-[A-Za-z0-9_-]{1,64}$/;

/**
 * The streams `--stream` may mean, in the order tried: a stream name as given; else an order's id
 * (demo-1, or merchantId.orderId), and then a payment's id.
 */
function streamCandidates(raw: string): string[] {
  if (orderKeyOf(raw) !== null || PAYMENT_STREAM.test(raw)) return [raw];
  const candidates = [`order-${raw}`, `payment-${raw}`].filter((name) => orderKeyOf(name) !== null || PAYMENT_STREAM.test(name));
  if (candidates.length === 0) {
    throw new CliError('--stream must be a stream name (order-{orderId}, order-{merchantId}.{orderId}, payment-{paymentId}) or an order id: 1-64 characters of [A-Za-z0-9_-]');
  }
  return candidates;
}

/** The first of `candidates` that has events (the first when none has: an empty export). */
async function firstStreamFound(store: EventStore, candidates: readonly string[]): Promise<string> {
  for (const name of candidates) if ((await store.readStream(name)).length > 0) return name;
  return candidates[0];
}

function nonNegative(name: string, raw: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw new CliError(`${name} must be a whole number, not ${raw}`);
  return value;
}

/** An ISO 8601 time; one written without a zone is taken as UTC, like every time Payguard records. */
function time(name: string, raw: string): Date {
  const ms = Date.parse(/T[\d:.]+$/.test(raw) ? `${raw}Z` : raw);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) throw new CliError(`${name} must be an ISO 8601 time, e.g. 2026-11-26T10:00:00Z`);
  return new Date(ms);
}
