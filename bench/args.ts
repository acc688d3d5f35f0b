/** Command-line options of the bench scripts: `--name=value`, or `--name` alone for `true`. */
export function options(): Map<string, string> {
  const parsed = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new Error(`unknown argument ${arg}`);
    parsed.set(match[1], match[2] ?? 'true');
  }
  return parsed;
}

/** A non-negative number option, or `fallback` when it is not given. */
export function numberOption(args: Map<string, string>, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
}

/** A comma-separated list of non-negative numbers (`--name=10000,1000000`), or `fallback` when it is not given. */
export function numberListOption(args: Map<string, string>, name: string, fallback: readonly number[]): number[] {
  const raw = args.get(name);
  if (raw === undefined) return [...fallback];
  const values = raw.split(',').map((item) => Number(item.trim().replaceAll('_', '')));
  if (values.length === 0 || values.some((value) => !Number.isFinite(value) || value < 0)) {
    throw new Error(`--${name} must be a comma-separated list of non-negative numbers`);
  }
  return values;
}
