/**
 * What a CLI verb may touch of the world: its output streams, environment and standard input.
 * Its own module so the verbs' modules (report-command.ts, …) need not import main.ts, which
 * imports them.
 */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Raw stderr text (no newline), set only when stderr is a terminal: the sweep's updating progress line. */
  errRaw?: (text: string) => void;
  /** Whether stdout is a terminal: `report` prints a table there, NDJSON otherwise. */
  outTty?: boolean;
  /** Reads all of standard input (for `replay -`). Default: process.stdin, at most MAX_STDIN bytes (main.ts). */
  stdin?: () => Promise<string>;
}
