/**
 * `atrest` — the operator CLI (CONTRACT.md section 2). NDJSON outcomes on stdout, one per event or
 * resource; human-readable lines on stderr only. Exit 0 when no line is failed/rejected, 1 otherwise,
 * 2 for a usage or config error (then nothing was written to any cloud).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '#core/errors';
import type { Outcome } from '#core/outcome';
import { isFailure } from '#core/outcome';
import { loadCliConfig } from './config.ts';
import { replay } from './replay.ts';
import { sweep } from './sweep.ts';
import { USAGE, UsageError } from './usage.ts';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
      io.err(USAGE);
      return verb === undefined ? 2 : 0;
    }
    const emit = (outcome: Outcome) => io.out(JSON.stringify(outcome));
    let outcomes: Outcome[];
    switch (verb) {
      case 'replay': {
        const args = parse(rest, {
          config: { type: 'string' },
          'dry-run': { type: 'boolean' },
          force: { type: 'boolean' },
          remote: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.values.help) {
          io.err(USAGE);
          return 0;
        }
        if (args.positionals.length === 0)
          throw new UsageError('replay needs at least one event file or folder');
        if (args.values.remote) throw new UsageError('replay --remote is not available in this version');
        const config = loadCliConfig(args.values.config, io.env);
        outcomes = await replay(args.positionals, {
          config,
          dryRun: args.values['dry-run'] ?? false,
          force: args.values.force ?? false,
          env: io.env,
          emit,
          log: io.err,
        });
        break;
      }
      case 'sweep': {
        const args = parse(rest, {
          config: { type: 'string' },
          region: { type: 'string', multiple: true },
          'dry-run': { type: 'boolean' },
          concurrency: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.values.help) {
          io.err(USAGE);
          return 0;
        }
        const [id, ...extra] = args.positionals;
        if (id === undefined || extra.length > 0) throw new UsageError('sweep takes exactly one function id');
        const config = loadCliConfig(args.values.config, io.env);
        const concurrency = args.values.concurrency === undefined ? 4 : Number(args.values.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
          throw new UsageError('--concurrency must be a whole number from 1 to 64');
        outcomes = await sweep(id, {
          config,
          regions: args.values.region ?? [],
          dryRun: args.values['dry-run'] ?? false,
          concurrency,
          env: io.env,
          emit,
          log: io.err,
        });
        break;
      }
      default:
        throw new UsageError(`unknown command "${verb}"`);
    }
    const failures = outcomes.filter(isFailure).length;
    io.err(summary(outcomes));
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

function summary(outcomes: Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
  const parts = [...counts].map(([k, v]) => `${v} ${k}`);
  return `atrest: ${outcomes.length} processed${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
