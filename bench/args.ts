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
