/** The handler's structured log, as the tests read it. */
import { vi } from 'vitest';

/**
 * Sends every JSON line the code under test writes to stdout or stderr to `onLine` (and nothing to
 * the terminal); returns the spies, to `mockRestore()` after the test.
 */
export function captureJsonLines(onLine: (line: Record<string, unknown>) => void): { mockRestore(): void }[] {
  const capture = (chunk: string | Uint8Array): boolean => {
    for (const line of String(chunk)
      .split('\n')
      .filter((l) => l.trim().startsWith('{')))
      onLine(JSON.parse(line) as Record<string, unknown>);
    return true;
  };
  return [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
}
