/**
 * How the infra entry points (`npm run synth`, `cdk synth`, the deploy scripts) end on a known
 * error: one line naming the field, exit status 1 — not a stack trace. Anything else is a bug and
 * keeps its trace.
 */
import { ConfigError } from '#core/errors';

/** The one line printed for a known error, or undefined for an unexpected one. */
export function oneLine(error: unknown, tool: string): string | undefined {
  if (error instanceof ConfigError) return `${tool}: ${error.issues.join('; ')}`;
  return undefined;
}

/** Runs an entry point; a ConfigError becomes one stderr line and exit 1. */
export async function runEntry(tool: string, main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const line = oneLine(error, tool);
    if (line === undefined) throw error;
    process.stderr.write(`${line}\n`);
    process.exitCode = 1;
  }
}
