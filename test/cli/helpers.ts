/** Shared by the CLI tests: a captured Io, a temporary config file, NDJSON parsing, the entry point. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../functions/cli/io.ts';
import type { Outcome } from '../../functions/core/outcome.ts';

export interface CapturedIo extends Io {
  stdout: string[];
  stderr: string[];
  /** Raw stderr writes (only when `tty` was asked for). */
  raw: string[];
}

export function captureIo(
  env: Record<string, string | undefined>,
  options: { tty?: boolean } = {},
): CapturedIo {
  const io: CapturedIo = {
    stdout: [],
    stderr: [],
    raw: [],
    env,
    out: (line) => io.stdout.push(line),
    err: (line) => io.stderr.push(line),
  };
  if (options.tty) io.errRaw = (text) => io.raw.push(text);
  return io;
}

/** Every stdout line as an outcome (throws if a line is not JSON: stdout must be NDJSON only). */
export const outcomesOf = (io: { stdout: string[] }): Outcome[] =>
  io.stdout.map((line) => JSON.parse(line) as Outcome);

export function countBy(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
  return counts;
}

export function writeConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'atrest-cli-'));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export function writeEvents(name: string, events: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'atrest-events-'));
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(events));
  return path;
}

/** The installed entry point, and the repository root the CLI runs from, for tests that spawn it. */
export const BIN = fileURLToPath(new URL('../../bin/atrest.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
