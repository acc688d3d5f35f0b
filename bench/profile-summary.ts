/**
 * Summarizes V8 CPU profiles (`node --cpu-prof`, e.g. from `npm run bench -- --only=a --cpu-prof-dir=DIR`):
 * the functions with the most self time, and self time by where the code lives (a package under
 * node_modules, Node's internals, Payguard's src/ by file), as a share of the profile's samples.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile>... [--top=30]
 */
import { readFileSync } from 'node:fs';
import { numberOption } from './args.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a frame's code lives: `pkg:<name>`, `node:<module>`, `src/<file>`, or a V8 pseudo-frame. */
function place(url: string, functionName: string): string {
  if (url === '') return `(${functionName || 'anonymous'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const src = /\/(src|bench)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url;
}

export function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = (byId.get(id) as ProfileNode).callFrame;
    const where = place(url, functionName);
    const key = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    byPlace.set(where, (byPlace.get(where) ?? 0) + micros);
  }
  const lines = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, micros]) => `${((micros / total) * 100).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  return [
    `${(total / 1000).toFixed(0)} ms of samples`,
    'self time by function:',
    ...lines(byFunction),
    'self time by place:',
    ...lines(byPlace),
  ].join('\n');
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const files = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const flags = new Map(process.argv.slice(2).filter((arg) => arg.startsWith('--top=')).map((arg) => ['top', arg.slice(6)]));
  const top = numberOption(flags, 'top', 30);
  for (const file of files) console.log(`${file}\n${summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, top)}\n`);
}
