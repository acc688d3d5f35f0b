/** The soak's processes (sandbox gateway, Payguard) and its HTTP client that never throws. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/soak/processes.js. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = join(ROOT, 'dist/src/main.js');
export const SANDBOX_MAIN = join(ROOT, 'dist/src/sandbox-main.js');
export const CLI = join(ROOT, 'dist/src/cli.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Answer {
  /** 0 when no answer came (refused, reset, timed out). */
  readonly status: number;
  readonly body: any;
  readonly error?: string;
}

/** One HTTP call; any failure is an answer with status 0, never an exception. */
export async function call(method: string, url: string, body?: unknown, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    return { status: 0, body: null, error: (error as Error).message };
  }
}

/** A child process on a fixed port, restartable on the same port and environment. */
export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  /** When it last answered ready (ms since epoch). */
  readyAt = 0;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Record<string, string>,
    readonly url: string,
    private readonly readyPath: string,
    logDir: string,
  ) {
    this.log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it and resolves once `readyPath` answers 200; throws after `timeoutMs`. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.starts++;
    this.log.write(`\n===== soak: start #${this.starts} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [this.script], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode} while starting (see ${this.log.path})`);
      const answer = await call('GET', `${this.url}${this.readyPath}`, undefined, 1000);
      if (answer.status === 200) {
        this.readyAt = Date.now();
        return;
      }
      if (Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`${this.name} not ready within ${timeoutMs} ms (see ${this.log.path})`);
      }
      await sleep(50);
    }
  }

  /** Sends `signal` and waits for the exit; a SIGTERM that is not obeyed within 10 s becomes SIGKILL. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (this.running) child.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => this.running && child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.exited;
    }
    this.log.write(`\n===== soak: ${signal} at ${new Date().toISOString()} =====\n`);
  }

  close(): void {
    this.log.end();
  }

  get logPath(): string {
    return String(this.log.path);
  }
}

/** Runs a node script to completion: its exit code and output. */
export function runNode(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}
