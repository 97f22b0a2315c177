/**
 * Proof that the test kit is found, not listed: a throwaway sixth function — its folder (a copy of
 * alicloud.table-bucket-encryption under another id), its samples, its driver, and its one
 * registration (functions/registry.ts) — is scaffolded in a copy of the repository, and the
 * suites run there unedited: the meta-test, fuzzing, the endpoint checks, the fault matrix, tamper
 * restore, concurrency, secret hygiene, the cold-start floors, the ROS stack and the demo all test
 * it. Then the same copy without its driver, without its samples, or without its trigger fails the
 * meta-test naming what is missing. The lines it needs outside its own folders are counted.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const FROM = 'table-bucket-encryption';
const SIXTH = 'sixth-bucket';
const ID = `alicloud.${SIXTH}`;

/** The suites that must pick the sixth function up without an edit. */
const SUITES = [
  'test/meta.test.ts',
  'test/hardening/fuzz.test.ts',
  'test/hardening/endpoints.test.ts',
  'test/hardening/fault-matrix.test.ts',
  'test/hardening/tamper.test.ts',
  'test/hardening/concurrency.test.ts',
  'test/hardening/secrets.test.ts',
  'test/bench/floors.test.ts',
  'test/infra/alicloud-stack.test.ts',
  'test/bin/demo.test.ts',
];

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** What the repository ignores (.gitignore) and git's own folder: not copied. */
const NOT_COPIED = new Set([
  '.git',
  'node_modules',
  'cdk.out',
  'dist',
  'coverage',
  '.bench',
  '.atrest',
  '.vitest',
  'scratch',
]);

/** The repository as the working tree has it (tracked and new files; without git, all but the ignored), node_modules linked. */
function copyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'atrest-sixth-'));
  copies.push(dir);
  const listed = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (listed.status === 0)
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      try {
        cpSync(join(ROOT, file), join(dir, file));
      } catch {
        // A file deleted in the working tree but still tracked: not part of the tree under test.
      }
    }
  else
    for (const entry of readdirSync(ROOT).filter((e) => !NOT_COPIED.has(e)))
      cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

const edit = (file: string, change: (text: string) => string) =>
  writeFileSync(file, change(readFileSync(file, 'utf8')));

/** Where the function's config section is defined beside it (its folder's config.ts), the section is its own. */
const OWN_SECTION = existsSync(join(ROOT, 'functions/alicloud', FROM, 'config.ts'));

/**
 * The function renamed in a source: its id, its folder name, its paths, and (when its folder
 * defines it) its config section `alicloud.sixthBucket` — not other names that share words.
 */
const renamed = (text: string) => {
  const moved = text
    .replaceAll(`alicloud.${FROM}`, ID)
    .replaceAll(`'${FROM}'`, `'${SIXTH}'`)
    .replaceAll(`/${FROM}/`, `/${SIXTH}/`);
  return OWN_SECTION
    ? moved
        .replaceAll("section: 'tableBucketEncryption'", "section: 'sixthBucket'")
        .replaceAll('tableBucketEncryption:', 'sixthBucket:')
    : moved;
};

/** Copies `from` to `to`, renaming the function in every source. */
function copyRenamed(from: string, to: string) {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const text = readFileSync(join(from, name));
    writeFileSync(join(to, name), name.endsWith('.ts') ? renamed(text.toString('utf8')) : text);
  }
}

/**
 * The sixth function in `dir`: its folder, its samples, its driver (copies of an existing
 * function's, renamed), and its registration. Returns the lines changed outside its folders.
 */
function scaffold(dir: string): number {
  copyRenamed(join(ROOT, 'functions/alicloud', FROM), join(dir, 'functions/alicloud', SIXTH));
  copyRenamed(join(ROOT, 'events/alicloud', FROM), join(dir, 'events/alicloud', SIXTH));
  mkdirSync(join(dir, 'test/functions/alicloud', SIXTH), { recursive: true });
  writeFileSync(
    join(dir, 'test/functions/alicloud', SIXTH, 'driver.ts'),
    renamed(readFileSync(join(ROOT, 'test/functions/alicloud', FROM, 'driver.ts'), 'utf8')),
  );
  // Its registration: one line in functions/registry.ts, or (before the registry) an import and an
  // entry in functions/manifests.ts.
  const registry = existsSync(join(dir, 'functions/registry.ts'));
  const file = registry ? 'functions/registry.ts' : 'functions/manifests.ts';
  edit(join(dir, file), (text) =>
    registry
      ? `${text.trimEnd()}\nexport { manifest as f99 } from './alicloud/${SIXTH}/manifest.ts';\n`
      : text
          .replace(
            /^(import \{ manifest as [^\n]+\n)/m,
            `import { manifest as sixthBucket } from './alicloud/${SIXTH}/manifest.ts';\n$1`,
          )
          .replace(/(export const MANIFESTS[^=]*= \[\n)/, '$1  sixthBucket,\n'),
  );
  const diff = spawnSync('git', ['diff', '--no-index', '--numstat', join(ROOT, file), join(dir, file)], {
    encoding: 'utf8',
  });
  return Number(diff.stdout.split('\t')[0] ?? Number.NaN);
}

interface Report {
  testResults: {
    name: string;
    /** A file that failed to load has no tests, only this. */
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

/** Runs vitest in `dir` on `files`, only the tests whose name names the sixth function. */
function vitest(dir: string, files: string[]): Report {
  const out = join(dir, '.vitest-report.json');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'CI'),
  );
  spawnSync(
    process.execPath,
    [
      join(dir, 'node_modules/vitest/vitest.mjs'),
      'run',
      ...files,
      '-t',
      ID.replaceAll('.', '\\.'),
      '--reporter=json',
      `--outputFile=${out}`,
    ],
    { cwd: dir, env: { ...env, FUZZ_RUNS: '20' }, encoding: 'utf8', timeout: 300_000 },
  );
  return JSON.parse(readFileSync(out, 'utf8')) as Report;
}

/** The tests that ran; a file that failed to load counts as one failed test carrying its error. */
const tests = (report: Report) =>
  report.testResults.flatMap((file) => {
    const where = file.name.slice(file.name.indexOf('/test/') + 1);
    const ran = file.assertionResults
      .filter((t) => t.status !== 'skipped' && t.status !== 'pending')
      .map((t) => ({ file: where, ...t }));
    return file.message
      ? [
          ...ran,
          { file: where, fullName: `${where} (load)`, status: 'failed', failureMessages: [file.message] },
        ]
      : ran;
  });

describe('a sixth function joins the suites through its folder, samples and driver', () => {
  it('is tested by every hardening suite and the meta-test, unedited, and needs only its registration outside its folders', {
    timeout: 400_000,
  }, () => {
    // Prepare
    const dir = copyRepo();
    const outside = scaffold(dir);

    // Act
    const ran = tests(vitest(dir, SUITES));

    // Assess: every suite ran tests of the sixth function, and they passed.
    for (const suite of SUITES)
      expect(
        ran.filter((t) => t.file === suite && t.fullName.includes(ID)).length,
        `${suite} ran no test of ${ID}`,
      ).toBeGreaterThan(0);
    expect(
      ran
        .filter((t) => t.status !== 'passed')
        .map((t) => `${t.file}: ${t.fullName}: ${t.failureMessages[0]?.slice(0, 300)}`),
    ).toEqual([]);
    // One line in functions/registry.ts (two in functions/manifests.ts before the registry existed).
    expect(outside).toBe(existsSync(join(ROOT, 'functions/registry.ts')) ? 1 : 2);
  });

  it.each([
    [
      'its driver',
      (dir: string) => rmSync(join(dir, 'test/functions/alicloud', SIXTH, 'driver.ts')),
      /driver\.ts/,
    ],
    [
      'its samples',
      (dir: string) => rmSync(join(dir, 'events/alicloud', SIXTH), { recursive: true }),
      /no sample of CreateTableBucket/,
    ],
    [
      'its trigger',
      (dir: string) =>
        edit(join(dir, 'functions/alicloud', SIXTH, 'manifest.ts'), (t) =>
          t.replace(/\n {2}trigger: \{[^}]*\},/, ''),
        ),
      /is deployed with a trigger.*no trigger/s,
    ],
  ] as const)('without %s the meta-test fails, naming it', { timeout: 120_000 }, (_what, remove, named) => {
    // Prepare
    const dir = copyRepo();
    scaffold(dir);
    remove(dir);

    // Act
    const failed = tests(vitest(dir, ['test/meta.test.ts'])).filter((t) => t.status === 'failed');

    // Assess
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.map((t) => `${t.fullName}: ${t.failureMessages.join(' ')}`).join('\n')).toMatch(named);
  });
});
