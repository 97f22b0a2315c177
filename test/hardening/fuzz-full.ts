/**
 * The full fuzzing run: test/hardening/fuzz.test.ts with 10 000 cases per property (about 20 s),
 * where `npm test` runs the same properties with a small default count.
 *
 *   npm run fuzz                       (package.json: "fuzz": "tsx test/hardening/fuzz-full.ts")
 *   FUZZ_RUNS=50000 npm run fuzz       (any other count)
 *
 * fast-check prints the seed and the shrunk counterexample of a failing property; exit status 1.
 */
import { startVitest } from 'vitest/node';

process.env.FUZZ_RUNS ??= '10000';
const vitest = await startVitest('test', ['test/hardening/fuzz.test.ts'], { run: true, watch: false });
// startVitest sets process.exitCode when a test fails; close() ends the worker pool.
await vitest.close();
