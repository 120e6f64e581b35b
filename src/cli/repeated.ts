// citty keeps only the last value of a repeated flag; `-m a -m b` must send both.
export function collectRepeated(rawArgs: readonly string[], name: string, alias?: string): string[] {
  // Forms: --name VALUE, --name=VALUE, -alias VALUE, -alias=VALUE (run.ts rejects anything else).
  const values: string[] = [];
  const flags = new Set([`--${name}`, ...(alias ? [`-${alias}`] : [])]);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (flags.has(arg) && i + 1 < rawArgs.length) values.push(rawArgs[++i]!);
    else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
    else if (alias && arg.startsWith(`-${alias}=`)) values.push(arg.slice(alias.length + 2));
  }
  return values;
}
