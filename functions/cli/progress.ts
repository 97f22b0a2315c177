/**
 * Sweep progress on stderr (stdout carries only NDJSON): one line rewritten in place when stderr
 * is a terminal, else a plain line every `every` resources or `intervalMs`, whichever comes first,
 * so a CI log shows the sweep moving without drowning in it.
 */
import type { OutcomeKind } from '#core/outcome';

export interface ProgressSink {
  /** Writes one whole line (a newline is added). */
  line: (text: string) => void;
  /** When set, stderr is a terminal: writes raw text (no newline) for the updating line. */
  raw?: (text: string) => void;
  now?: () => number;
}

export class Progress {
  private readonly counts = new Map<OutcomeKind, number>();
  private done = 0;
  private listed = 0;
  private writes = 0;
  private lastPrint = 0;
  private readonly started: number;
  private readonly now: () => number;
  private dirty = false;
  /** `done` when the last plain line was printed (-1: none yet). */
  private printedDone = -1;

  constructor(
    private readonly label: string,
    private readonly sink: ProgressSink,
    private readonly every = 100,
    private readonly intervalMs = 10_000,
  ) {
    this.now = sink.now ?? Date.now;
    this.started = this.now();
    this.lastPrint = this.started;
  }

  listedCount(listed: number): void {
    this.listed = listed;
    this.tick(false);
  }

  outcome(kind: OutcomeKind, attempts: number): void {
    this.done += 1;
    this.writes += attempts;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.tick(this.done % this.every === 0);
  }

  /** Ends the updating line so later stderr lines start on their own. */
  finish(): void {
    if (this.sink.raw) {
      if (this.dirty) this.sink.raw(`\r\x1b[2K${this.text()}\n`);
    } else if (this.printedDone !== this.done) {
      this.printedDone = this.done;
      this.sink.line(this.text());
    }
    this.dirty = false;
  }

  /** A line for a message that must not collide with the updating one. */
  note(text: string): void {
    if (this.sink.raw && this.dirty) {
      this.sink.raw('\r\x1b[2K');
      this.dirty = false;
    }
    this.sink.line(text);
  }

  text(): string {
    const seconds = Math.max(0.001, (this.now() - this.started) / 1000);
    const parts = [...this.counts].map(([k, v]) => `${v} ${k}`).join(', ');
    return `atrest: ${this.label}: ${this.done}/${this.listed} done${parts ? ` (${parts})` : ''}, ${this.writes} write(s), ${(this.done / seconds).toFixed(1)}/s`;
  }

  private tick(milestone: boolean): void {
    const now = this.now();
    if (this.sink.raw) {
      // Redraw at most ten times a second: a terminal is slower than the sweep.
      this.dirty = true;
      if (now - this.lastPrint < 100 && !milestone) return;
      this.lastPrint = now;
      this.sink.raw(`\r\x1b[2K${this.text()}`);
      return;
    }
    if (milestone || now - this.lastPrint >= this.intervalMs) {
      this.lastPrint = now;
      this.printedDone = this.done;
      this.sink.line(this.text());
    }
  }
}
