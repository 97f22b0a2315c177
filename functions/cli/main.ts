/**
 * `atrest` — the operator CLI (CONTRACT.md section 2). NDJSON outcomes on stdout, one per event or
 * resource; human-readable lines on stderr only. Exit 0 when every line is settled (done: applied,
 * compliant, excluded, gone, ignored, a duplicate of completed work), 1 when any is not (failed,
 * rejected, deferred, a duplicate of work still in progress elsewhere), 2 for a usage or config error (then nothing was written to any cloud). `doctor` prints one check
 * per line on stdout instead, with the same exit codes.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '#core/errors';
import type { Outcome } from '#core/outcome';
import { isSettled } from '#core/outcome';
import { checkEndpointOverrides } from '../alicloud/clients.ts';
import { loadCliConfig } from './config.ts';
import { doctor } from './doctor.ts';
import { AccountAccessError } from './org.ts';
import { replayRemote } from './remote.ts';
import { replay, STDIN } from './replay.ts';
import { runReport } from './report-command.ts';
import { DEFAULT_RATE, sweep } from './sweep.ts';
import type { OrgDeps } from './units.ts';
import { USAGE, UsageError } from './usage.ts';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Raw stderr text (no newline), set only when stderr is a terminal: the sweep's updating progress line. */
  errRaw?: (text: string) => void;
  /** Whether stdout is a terminal: `report` prints a table there, NDJSON otherwise. */
  outTty?: boolean;
  /** Reads all of standard input (for `replay -`). Default: process.stdin, at most MAX_STDIN bytes. */
  stdin?: () => Promise<string>;
}

/** `replay -` reads at most this much: a receive-message batch is at most 10 × 256 KiB. */
export const MAX_STDIN = 64 * 1024 * 1024;

/** Standard input as text, refused past `limit` bytes (never an unbounded buffer). */
export async function readStream(stream: AsyncIterable<Buffer | string>, limit = MAX_STDIN): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) throw new UsageError(`standard input is larger than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  ...(process.stderr.isTTY ? { errRaw: (text: string) => process.stderr.write(text) } : {}),
  outTty: process.stdout.isTTY === true,
  stdin: () => readStream(process.stdin),
};

/** `deps`: the org-wide seams (account access, account listing); tests and the runtime pass them. */
export async function main(argv: string[], io: Io = defaultIo, deps: OrgDeps = {}): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
      io.err(USAGE);
      return verb === undefined ? 2 : 0;
    }
    // A bad endpoint variable stops here with exit 2, before any event or resource is touched.
    checkEndpointOverrides(io.env);
    const emit = (outcome: Outcome) => io.out(JSON.stringify(outcome));
    const started = Date.now();
    let outcomes: Outcome[];
    switch (verb) {
      case 'replay': {
        const args = parse(rest, {
          config: { type: 'string' },
          'dry-run': { type: 'boolean' },
          force: { type: 'boolean' },
          remote: { type: 'boolean' },
          'function-name': { type: 'string' },
          region: { type: 'string' },
          account: { type: 'string' },
          qualifier: { type: 'string' },
          'fc2-service': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        });
        const v = args.values;
        if (v.help) {
          io.err(USAGE);
          return 0;
        }
        if (args.positionals.length === 0)
          throw new UsageError('replay needs at least one event file or folder (or - for standard input)');
        const stdin = args.positionals.includes(STDIN)
          ? await (io.stdin ?? (() => readStream(process.stdin)))()
          : undefined;
        if (v.remote) {
          if (v['dry-run'] || v.force)
            throw new UsageError(
              '--dry-run and --force run in this process; the deployed function always writes',
            );
          outcomes = await replayRemote(args.positionals, {
            env: io.env,
            emit,
            log: io.err,
            ...(v['function-name'] !== undefined ? { functionName: v['function-name'] } : {}),
            ...(v.region !== undefined ? { region: v.region } : {}),
            ...(v.account !== undefined ? { account: v.account } : {}),
            ...(v.qualifier !== undefined ? { qualifier: v.qualifier } : {}),
            ...(v['fc2-service'] !== undefined ? { fc2Service: v['fc2-service'] } : {}),
            ...(stdin !== undefined ? { stdin } : {}),
          });
          break;
        }
        const remoteOnly = (
          ['function-name', 'region', 'account', 'qualifier', 'fc2-service'] as const
        ).filter((flag) => v[flag] !== undefined);
        if (remoteOnly.length > 0) throw new UsageError(`--${remoteOnly.join(', --')} only with --remote`);
        const config = loadCliConfig(v.config, io.env);
        outcomes = await replay(args.positionals, {
          config,
          dryRun: v['dry-run'] ?? false,
          force: v.force ?? false,
          env: io.env,
          emit,
          log: io.err,
          ...(stdin !== undefined ? { stdin } : {}),
        });
        break;
      }
      case 'sweep': {
        const args = parse(rest, {
          config: { type: 'string' },
          region: { type: 'string', multiple: true },
          org: { type: 'boolean' },
          account: { type: 'string', multiple: true },
          'dry-run': { type: 'boolean' },
          concurrency: { type: 'string' },
          rate: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.values.help) {
          io.err(USAGE);
          return 0;
        }
        const [id, ...extra] = args.positionals;
        if (id === undefined || extra.length > 0) throw new UsageError('sweep takes exactly one function id');
        const concurrency = args.values.concurrency === undefined ? 4 : Number(args.values.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
          throw new UsageError('--concurrency must be a whole number from 1 to 64');
        const rate = args.values.rate === undefined ? DEFAULT_RATE : Number(args.values.rate);
        if (!Number.isFinite(rate)) throw new UsageError('--rate must be a number (calls per second)');
        const config = loadCliConfig(args.values.config, io.env);
        outcomes = await sweep(id, {
          ...deps,
          config,
          regions: args.values.region ?? [],
          org: args.values.org ?? false,
          accounts: args.values.account ?? [],
          dryRun: args.values['dry-run'] ?? false,
          concurrency,
          rate,
          env: io.env,
          emit,
          log: io.err,
          ...(io.errRaw ? { progressRaw: io.errRaw } : {}),
        });
        break;
      }
      case 'report':
        return await runReport(rest, io, deps);
      case 'doctor': {
        const args = parse(rest, {
          config: { type: 'string' },
          region: { type: 'string', multiple: true },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.values.help) {
          io.err(USAGE);
          return 0;
        }
        if (args.positionals.length > 0) throw new UsageError('doctor takes no arguments');
        return await doctor({
          ...(args.values.config !== undefined ? { configPath: args.values.config } : {}),
          regions: args.values.region ?? [],
          env: io.env,
          out: io.out,
          err: io.err,
        });
      }
      default:
        throw new UsageError(`unknown command "${verb}"`);
    }
    // Settled means settled: a deferral or another run's lock is not done, and a script must know.
    const failures = outcomes.filter((o) => !isSettled(o)).length;
    io.err(summary(outcomes, Date.now() - started));
    return failures > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`atrest: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.err(`atrest: ${error.message}`);
      return 2;
    }
    if (error instanceof AccountAccessError) {
      // The organization's accounts or the caller's identity could not be read: nothing was done.
      io.err(`atrest: ${error.message}${error.requestId ? ` (request id ${error.requestId})` : ''}`);
      return 1;
    }
    throw error;
  }
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `atrest: 500 processed: 120 applied, 330 compliant, 50 excluded; 120 write(s) in 4.2 s` */
export function summary(outcomes: Outcome[], elapsedMs: number): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
  const parts = [...counts].map(([k, v]) => `${v} ${k}`);
  const writes = outcomes.reduce((sum, o) => sum + o.attempts, 0);
  return `atrest: ${outcomes.length} processed${parts.length ? `: ${parts.join(', ')}` : ''}; ${writes} write(s) in ${(elapsedMs / 1000).toFixed(1)} s`;
}
