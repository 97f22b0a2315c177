/**
 * `atrest` — the operator CLI (CONTRACT.md section 2). NDJSON outcomes on stdout, one per event or
 * resource; human-readable lines on stderr only. Exit 0 when every line is settled (done: applied,
 * compliant, excluded, gone, ignored, a duplicate of completed work), 1 when any is not (failed,
 * rejected, deferred, a duplicate of work still in progress elsewhere), 2 for a usage or config error (then nothing was written to any cloud). `doctor` prints one check
 * per line on stdout instead, with the same exit codes.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '#core/errors';
import type { Outcome } from '#core/outcome';
import { isFailure, isSettled } from '#core/outcome';
import { checkEndpointOverrides } from '../alicloud/clients.ts';
import { FUNCTION_IDS } from '../manifests.ts';
import { loadCliConfig } from './config.ts';
import { doctor } from './doctor.ts';
import { init } from './init.ts';
import type { Io } from './io.ts';
import { AccountAccessError } from './org.ts';
import { replayRemote } from './remote.ts';
import { replay, STDIN } from './replay.ts';
import { runReport } from './report-command.ts';
import { DEFAULT_RATE, sweep } from './sweep.ts';
import type { OrgDeps } from './units.ts';
import { overview, shortUsage, suggestion, UsageError, VERBS, verbHelp } from './usage.ts';

/** `replay -` reads at most this much: a receive-message batch is at most 10 × 256 KiB. */
const MAX_STDIN = 64 * 1024 * 1024;

/** Standard input as text, refused past `limit` bytes (never an unbounded buffer). */
export async function readStream(stream: AsyncIterable<Buffer | string>, limit = MAX_STDIN): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) throw new UsageError(`standard input is larger than ${limit} bytes`, 'replay');
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

/** The package version, read once from package.json (the CLI runs from the source tree). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** `deps`: the org-wide seams (account access, account listing); tests and the runtime pass them. */
export async function main(argv: string[], io: Io = defaultIo, deps: OrgDeps = {}): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    if (verb === undefined || verb === '--help' || verb === '-h') {
      io.err(overview());
      return verb === undefined ? 2 : 0;
    }
    if (verb === 'help') {
      io.err(rest[0] !== undefined ? verbHelp(rest[0]) : overview());
      return 0;
    }
    if (verb === '--version' || verb === '-V' || verb === 'version') {
      io.out(`atrest ${version()}`);
      return 0;
    }
    // `atrest <verb> --help` anywhere on the line: that verb's help, before any other check.
    if (VERBS[verb] !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
      io.err(verbHelp(verb));
      return 0;
    }
    // A bad endpoint variable stops here with exit 2, before any event or resource is touched.
    checkEndpointOverrides(io.env);
    const emit = (outcome: Outcome) => io.out(JSON.stringify(outcome));
    const started = Date.now();
    let outcomes: Outcome[];
    let dryRun = false;
    switch (verb) {
      case 'replay': {
        const args = parse('replay', rest, {
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
        if (args.positionals.length === 0)
          throw new UsageError(
            'replay needs at least one event file or folder (or - for standard input)',
            'replay',
          );
        const stdin = args.positionals.includes(STDIN)
          ? await (io.stdin ?? (() => readStream(process.stdin)))()
          : undefined;
        if (v.remote) {
          if (v['dry-run'] || v.force)
            throw new UsageError(
              '--dry-run and --force run in this process; the deployed function always writes',
              'replay',
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
        if (remoteOnly.length > 0)
          throw new UsageError(`--${remoteOnly.join(', --')} only with --remote`, 'replay');
        const config = loadCliConfig(v.config, io.env);
        dryRun = v['dry-run'] ?? false;
        outcomes = await replay(args.positionals, {
          config,
          dryRun,
          force: v.force ?? false,
          env: io.env,
          emit,
          log: io.err,
          ...(stdin !== undefined ? { stdin } : {}),
        });
        break;
      }
      case 'sweep': {
        const args = parse('sweep', rest, {
          config: { type: 'string' },
          region: { type: 'string', multiple: true },
          org: { type: 'boolean' },
          account: { type: 'string', multiple: true },
          'dry-run': { type: 'boolean' },
          concurrency: { type: 'string' },
          rate: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        });
        const [id, ...extra] = args.positionals;
        if (id === undefined || extra.length > 0)
          throw new UsageError('sweep takes exactly one function id', 'sweep');
        if (!(FUNCTION_IDS as readonly string[]).includes(id))
          throw new UsageError(`unknown function id "${id}"${suggestion(id, FUNCTION_IDS)}`, 'sweep');
        const concurrency = args.values.concurrency === undefined ? 4 : Number(args.values.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
          throw new UsageError('--concurrency must be a whole number from 1 to 64', 'sweep');
        const rate = args.values.rate === undefined ? DEFAULT_RATE : Number(args.values.rate);
        if (!Number.isFinite(rate))
          throw new UsageError('--rate must be a number (calls per second)', 'sweep');
        const config = loadCliConfig(args.values.config, io.env);
        dryRun = args.values['dry-run'] ?? false;
        outcomes = await sweep(id, {
          ...deps,
          config,
          regions: args.values.region ?? [],
          org: args.values.org ?? false,
          accounts: args.values.account ?? [],
          dryRun,
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
        const args = parse('doctor', rest, {
          config: { type: 'string' },
          region: { type: 'string', multiple: true },
          'aws-region': { type: 'string', multiple: true },
          'alicloud-region': { type: 'string', multiple: true },
          'ack-role-id': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.positionals.length > 0) throw new UsageError('doctor takes no arguments', 'doctor');
        return await doctor({
          ...(args.values.config !== undefined ? { configPath: args.values.config } : {}),
          regions: args.values.region ?? [],
          awsRegions: args.values['aws-region'] ?? [],
          alicloudRegions: args.values['alicloud-region'] ?? [],
          ...(args.values['ack-role-id'] !== undefined ? { ackRoleId: args.values['ack-role-id'] } : {}),
          env: io.env,
          out: io.out,
          err: io.err,
        });
      }
      case 'init': {
        const args = parse('init', rest, {
          out: { type: 'string' },
          'aws-key': { type: 'string', multiple: true },
          'alicloud-key': { type: 'string' },
          'alicloud-region': { type: 'string', multiple: true },
          functions: { type: 'string' },
          'logstore-role': { type: 'string' },
          force: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        });
        if (args.positionals.length > 0) throw new UsageError('init takes no arguments', 'init');
        const v = args.values;
        return init({
          out: v.out ?? 'atrest.json',
          awsKeys: v['aws-key'] ?? [],
          ...(v['alicloud-key'] !== undefined ? { alicloudKey: v['alicloud-key'] } : {}),
          alicloudRegions: v['alicloud-region'] ?? [],
          ...(v.functions !== undefined ? { functions: v.functions.split(',').map((f) => f.trim()) } : {}),
          ...(v['logstore-role'] !== undefined ? { logstoreRole: v['logstore-role'] } : {}),
          force: v.force ?? false,
          err: io.err,
        });
      }
      default:
        throw new UsageError(`unknown command "${verb}"${suggestion(verb, Object.keys(VERBS))}`);
    }
    // Settled means settled: a deferral or another run's lock is not done, and a script must know.
    const failures = outcomes.filter((o) => !isSettled(o)).length;
    io.err(summary(outcomes, Date.now() - started));
    if (dryRun) io.err(dryRunSummary(outcomes));
    return failures > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`atrest: ${error.message}\n${shortUsage(error.verb)}`);
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

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(
  verb: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // Which option is unknown, from parseArgs' own tokens (by its error code, not its message).
    const unknown =
      (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? unknownOption(args, options)
        : undefined;
    if (unknown !== undefined)
      throw new UsageError(
        `unknown option ${unknown}${suggestion(
          unknown,
          Object.keys(options).map((o) => `--${o}`),
        )}`,
        verb,
      );
    throw new UsageError((error as Error).message, verb);
  }
}

/** The first option in `args` (as typed: `--name`, `-x`) that `options` does not declare. */
function unknownOption(args: string[], options: ParseArgsConfig['options'] & object): string | undefined {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens)
    if (token.kind === 'option' && !Object.hasOwn(options, token.name)) return token.rawName;
  return undefined;
}

/**
 * After a dry run: what a real run would change, so the reader need not count NDJSON lines.
 * `applied` in a dry run means "would write".
 */
export function dryRunSummary(outcomes: Outcome[], show = 20): string {
  // Several events may name one resource (a redelivery, a dead letter of it): count it once.
  const would = [
    ...new Map(
      outcomes.filter((o) => o.outcome === 'applied').map((o) => [`${o.region ?? ''} ${o.resource}`, o]),
    ).values(),
  ];
  const changing = new Set(would.map((o) => `${o.region ?? ''} ${o.resource}`));
  const failed = outcomes.filter(isFailure).length;
  const staying = outcomes.filter((o) => o.outcome !== 'applied' && !isFailure(o)).length;
  const head = `atrest: dry run, nothing written: ${changing.size} would change${failed > 0 ? `, ${failed} failed or rejected` : ''}, ${staying} would stay as they are`;
  if (would.length === 0) return head;
  const list = would
    .slice(0, show)
    .map((o) => `  would encrypt ${o.resource}${o.region ? ` (${o.region})` : ''}`);
  if (would.length > show) list.push(`  … and ${would.length - show} more (the applied lines on stdout)`);
  return `${head}\n${list.join('\n')}`;
}

/** `atrest: 500 processed: 120 applied, 330 compliant, 50 excluded; 120 write(s) in 4.2 s` */
function summary(outcomes: Outcome[], elapsedMs: number): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
  const parts = [...counts].map(([k, v]) => `${v} ${k}`);
  const writes = outcomes.reduce((sum, o) => sum + o.attempts, 0);
  return `atrest: ${outcomes.length} processed${parts.length ? `: ${parts.join(', ')}` : ''}; ${writes} write(s) in ${(elapsedMs / 1000).toFixed(1)} s`;
}
