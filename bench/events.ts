/** The sample events of events/, read once and cloned per use: the benchmark sends what the tests send. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../infra/functions.ts';

// biome-ignore lint/suspicious/noExplicitAny: sample events are untyped JSON, edited field by field.
export type EventJson = Record<string, any>;

const cache = new Map<string, string>();

/** A fresh copy of `events/<cloud>/<name>/<variant>.json`. */
export function sample(path: string): EventJson {
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(join(REPO_ROOT, 'events', path), 'utf8');
    cache.set(path, text);
  }
  return JSON.parse(text) as EventJson;
}
