/** `atrest report …`: flags → report() → the chosen format on stdout, progress and a summary on stderr. */
import { parseArgs } from 'node:util';
import { loadCliConfig } from './config.ts';
import type { Io } from './io.ts';
import {
  format,
  REPORT_FORMATS,
  type ReportFormat,
  type ReportLine,
  report,
  reportExitCode,
  reportSummary,
} from './report.ts';
import type { OrgDeps } from './units.ts';
import { REPORT_USAGE, UsageError } from './usage.ts';

export async function runReport(argv: string[], io: Io, deps: OrgDeps = {}): Promise<number> {
  let args: ReturnType<typeof parseReportArgs>;
  try {
    args = parseReportArgs(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = args.values;
  if (v.help) {
    io.err(REPORT_USAGE);
    return 0;
  }
  const fmt = (v.format ?? (io.outTty ? 'table' : 'ndjson')) as ReportFormat;
  if (!(REPORT_FORMATS as readonly string[]).includes(fmt))
    throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
  const rate = v.rate === undefined ? undefined : Number(v.rate);
  if (rate !== undefined && !Number.isFinite(rate))
    throw new UsageError('--rate must be a number (calls per second)');
  const config = loadCliConfig(v.config, io.env);
  const started = Date.now();
  const lines: ReportLine[] = await report(args.positionals, {
    ...deps,
    config,
    flags: { org: v.org ?? false, accounts: v.account ?? [], regions: v.region ?? [] },
    env: io.env,
    log: io.err,
    ...(rate !== undefined ? { rate } : {}),
    // NDJSON streams line by line; the other formats need every line (sorting, column widths, totals).
    ...(fmt === 'ndjson' ? { emit: (line: ReportLine) => io.out(JSON.stringify(line)) } : {}),
  });
  if (fmt !== 'ndjson') for (const line of format(lines, fmt)) io.out(line);
  io.err(reportSummary(lines, Date.now() - started));
  return reportExitCode(lines);
}

function parseReportArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      org: { type: 'boolean' },
      account: { type: 'string', multiple: true },
      region: { type: 'string', multiple: true },
      format: { type: 'string' },
      rate: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}
