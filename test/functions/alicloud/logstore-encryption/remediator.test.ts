import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  permissions,
  permissionsFor,
} from '../../../../functions/alicloud/logstore-encryption/permissions.ts';
import {
  createRemediator,
  desireFor,
  evaluateState,
  type LogstoreTarget,
  parseEvent,
} from '../../../../functions/alicloud/logstore-encryption/remediator.ts';
import { parseConfig } from '../../../../functions/config.ts';

const load = (name: string): Record<string, unknown> =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/alicloud/logstore-encryption/${name}`, import.meta.url), 'utf8'),
  );

const sample = () =>
  load('create-logstore.json') as { data: Record<string, unknown> } & Record<string, unknown>;

const withData = (data: Record<string, unknown>) => {
  const event = sample();
  return { ...event, data: { ...event.data, ...data } };
};

const target = (overrides: Partial<LogstoreTarget> = {}): LogstoreTarget => ({
  eventId: 'e1',
  account: '1234567890123456',
  region: 'cn-hangzhou',
  resource: 'app-logs-prod/access-log',
  project: 'app-logs-prod',
  logstore: 'access-log',
  ...overrides,
});

const ROLE = 'acs:ram::1234567890123456:role/aliyunlogdefaultrole';

describe('parse', () => {
  it('turns the sample CreateLogStore event into one target', () => {
    // Act
    const parsed = parseEvent(sample());

    // Assess
    expect(parsed).toEqual({
      kind: 'targets',
      targets: [
        {
          eventId: '7b4f3c2e-5a1d-4e8f-9c6b-2d1a0e9f8c71',
          account: '1234567890123456',
          region: 'cn-hangzhou',
          resource: 'app-logs-prod/access-log',
          // the ActionTrail call id: every delivery of this creation is the same work
          observedAt: '2026-05-01T08:00:00Z',
          project: 'app-logs-prod',
          logstore: 'access-log',
        },
      ],
    });
  });

  it('ignores a failed CreateLogStore (errorCode set)', () => {
    const parsed = parseEvent(load('create-logstore-failed.json'));
    expect(parsed).toMatchObject({ kind: 'ignored', eventId: '0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f' });
    expect(parsed.kind === 'ignored' && parsed.reason).toContain('LogStoreAlreadyExist');
  });

  it('ignores other API calls, in any event type', () => {
    expect(parseEvent(withData({ eventName: 'DeleteLogStore' })).kind).toBe('ignored');
    expect(
      parseEvent({ ...withData({ eventName: 'DeleteLogStore' }), type: 'sls:ActionTrail:ConsoleOperation' })
        .kind,
    ).toBe('ignored');
  });

  it.each(['ConsoleOperation', 'AliyunServiceEvent'])('accepts CreateLogStore as a %s', (eventType) => {
    const parsed = parseEvent({ ...sample(), type: `sls:ActionTrail:${eventType}` });
    expect(parsed).toMatchObject({ kind: 'targets', targets: [{ resource: 'app-logs-prod/access-log' }] });
  });

  it('ignores an ActionTrail event type that cannot create anything', () => {
    expect(parseEvent({ ...sample(), type: 'sls:ActionTrail:Insight' }).kind).toBe('rejected');
  });

  it.each([
    [{ project: 'app-logs-prod', logStoreName: 'access-log' }],
    [{ projectName: 'app-logs-prod', LogstoreName: 'access-log' }],
    [{ PROJECTNAME: 'app-logs-prod', LOGSTORENAME: 'access-log' }],
  ])('reads the names from requestParameters %j', (requestParameters) => {
    const parsed = parseEvent(withData({ requestParameters, referencedResources: null }));
    expect(parsed).toMatchObject({
      kind: 'targets',
      targets: [{ project: 'app-logs-prod', logstore: 'access-log' }],
    });
  });

  it('falls back to referencedResources "project/logstore"', () => {
    const parsed = parseEvent(
      withData({ requestParameters: {}, referencedResources: { 'ACS::SLS::LogStore': ['p-two/ls_two'] } }),
    );
    expect(parsed).toMatchObject({ kind: 'targets', targets: [{ resource: 'p-two/ls_two' }] });
  });

  it.each([
    ['no project anywhere', { requestParameters: {} }],
    ['only the logstore in requestParameters', { requestParameters: { logstoreName: 'ls_two' } }],
  ])(
    'rejects a bare logstore name in referencedResources (%s): the project is never guessed',
    (_why, data) => {
      const parsed = parseEvent(
        withData({ ...data, referencedResources: { 'ACS::SLS::LogStore': ['ls_two'] } }),
      );

      expect(parsed).toMatchObject({
        kind: 'rejected',
        code: 'InvalidEvent',
        reason: expect.stringContaining('the project of logstore "ls_two" cannot be determined'),
      });
    },
  );

  it.each([
    ['no names', { requestParameters: {}, referencedResources: null }],
    [
      'a project that is not a host label',
      { requestParameters: { ProjectName: 'p1.attacker.example', logstoreName: 'ls1' } },
    ],
    ['an upper-case logstore', { requestParameters: { ProjectName: 'p-one', logstoreName: 'LS1' } }],
    [
      'a nested reference',
      { requestParameters: {}, referencedResources: { 'ACS::SLS::LogStore': ['a/b/c'] } },
    ],
    [
      'a non-string name',
      { requestParameters: { ProjectName: 42, logstoreName: 'ls1' }, referencedResources: null },
    ],
  ])('rejects an event with %s', (_why, data) => {
    const parsed = parseEvent(withData(data));
    expect(parsed).toMatchObject({
      kind: 'rejected',
      code: 'InvalidEvent',
      eventId: '7b4f3c2e-5a1d-4e8f-9c6b-2d1a0e9f8c71',
    });
  });

  it('rejects an event without region or account', () => {
    const noRegion = { ...withData({ acsRegion: undefined }), aliyunregionid: undefined };
    const noAccount = { ...withData({ userIdentity: {} }), aliyunaccountid: undefined };
    expect(parseEvent(noRegion)).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('region'),
    });
    expect(parseEvent(noAccount)).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('account'),
    });
  });

  it.each([
    ['a string', 'CreateLogStore'],
    ['null', null],
    ['wrong types', { ...sample(), id: 7, data: { eventName: 12 } }],
    ['a bad region', withData({ acsRegion: 'cn-hangzhou.evil.com' })],
    ['10 KB of garbage', { unparseable: 'x'.repeat(10_240) }],
  ])('rejects %s with a short reason', (_why, event) => {
    const parsed = parseEvent(event);
    expect(parsed.kind).toBe('rejected');
    expect(parsed.kind === 'rejected' && parsed.reason.length).toBeLessThan(600);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(['targets', 'ignored', 'rejected']).toContain(parseEvent(value).kind);
      }),
    );
  });

  it('owns CreateLogStore in every event type and as a bare trail record', () => {
    const remediator = createRemediator({ env: {} });
    expect(remediator.owns(sample())).toBe(true);
    expect(remediator.owns(withData({ eventName: 'CreateProject' }))).toBe(false);
    expect(remediator.owns({ ...sample(), type: 'sls:ActionTrail:ConsoleOperation' })).toBe(true);
    expect(remediator.owns({ ...sample(), type: 'sls:ActionTrail:Insight' })).toBe(false);
    expect(remediator.owns(sample().data)).toBe(true);
    expect(remediator.owns('nope')).toBe(false);
  });
});

describe('desire', () => {
  const config = (section: Record<string, unknown>) =>
    parseConfig({ alicloud: { logstoreEncryption: section } });

  it('is off without a config section', () => {
    expect(desireFor(target(), parseConfig({}))).toEqual({ kind: 'off' });
  });

  it('excludes project/logstore names matching a pattern', () => {
    const desire = desireFor(
      target(),
      config({ encryptType: 'default', exclude: ['^app-logs-prod/access-'] }),
    );
    expect(desire).toMatchObject({
      kind: 'excluded',
      reason: expect.stringContaining('^app-logs-prod/access-'),
    });
  });

  it('wants the service key when no CMK is configured', () => {
    expect(desireFor(target(), config({ encryptType: 'default' }))).toEqual({
      kind: 'desired',
      desired: { encryptType: 'default' },
      key: 'default',
    });
  });

  it("prefers the region's own CMK over the default one", () => {
    // Prepare
    const section = {
      encryptType: 'aes_gcm',
      userCmkInfo: { keyId: 'key-default', roleArn: ROLE, regionId: 'cn-hangzhou' },
      byRegion: { 'cn-beijing': { keyId: 'key-bj', roleArn: ROLE, regionId: 'cn-beijing' } },
    };

    // Act
    const beijing = desireFor(target({ region: 'cn-beijing' }), config(section));
    const hangzhou = desireFor(target(), config(section));

    // Assess
    expect(beijing).toMatchObject({
      kind: 'desired',
      key: 'aes_gcm:key-bj',
      desired: { userCmkInfo: { keyId: 'key-bj' } },
    });
    expect(hangzhou).toMatchObject({ kind: 'desired', key: 'aes_gcm:key-default' });
  });
});

describe('evaluate', () => {
  const cmk = { keyId: 'key-1', roleArn: ROLE, regionId: 'cn-hangzhou' };

  it.each([
    ['no encrypt_conf', {}, { encryptType: 'default' }, 'write'],
    ['encrypt_conf without a type', { encryptConf: { enable: false } }, { encryptType: 'default' }, 'write'],
    [
      'same type, service key, enabled',
      { encryptConf: { enable: true, encryptType: 'default' } },
      { encryptType: 'default' },
      'compliant',
    ],
    [
      'same type, service key, disabled',
      { encryptConf: { enable: false, encryptType: 'default' } },
      { encryptType: 'default' },
      'write',
    ],
    [
      'same type and CMK, enabled',
      {
        encryptConf: {
          enable: true,
          encryptType: 'default',
          userCmkInfo: { keyId: 'key-1', regionId: 'cn-hangzhou' },
        },
      },
      { encryptType: 'default', userCmkInfo: cmk },
      'compliant',
    ],
    [
      'same CMK through another role',
      {
        encryptConf: {
          enable: true,
          encryptType: 'default',
          userCmkInfo: { keyId: 'key-1', roleArn: 'acs:ram::1:role/other' },
        },
      },
      { encryptType: 'default', userCmkInfo: cmk },
      'compliant',
    ],
  ] as const)('%s → %s', (_why, state, desired, verdict) => {
    expect(evaluateState(state, desired).kind).toBe(verdict);
  });

  it.each([
    ['another type', { enable: true, encryptType: 'sm4_gcm' }, { encryptType: 'default' }],
    [
      'service key where a CMK is wanted',
      { enable: true, encryptType: 'default' },
      { encryptType: 'default', userCmkInfo: cmk },
    ],
    [
      'another CMK',
      { enable: true, encryptType: 'default', userCmkInfo: { keyId: 'key-2' } },
      { encryptType: 'default', userCmkInfo: cmk },
    ],
    [
      'a CMK where the service key is wanted',
      { enable: false, encryptType: 'default', userCmkInfo: { keyId: 'key-2' } },
      { encryptType: 'default' },
    ],
  ])('blocks %s: SLS encryption is immutable', (_why, encryptConf, desired) => {
    const verdict = evaluateState({ encryptConf }, desired);
    expect(verdict).toMatchObject({ kind: 'blocked', code: 'EncryptionImmutable' });
  });
});

describe('permissions', () => {
  it('grants exactly the SLS actions the function calls, scoped to SLS resources', () => {
    const actions = permissions.statements.flatMap((s) => s.actions).sort();
    expect(actions).toEqual([
      'log:GetLogStore',
      'log:ListLogStores',
      'log:ListProject',
      'log:UpdateLogStore',
    ]);
    for (const s of permissions.statements) {
      expect(s.resources.every((r) => r.startsWith('acs:log:{region}:{account}:project/'))).toBe(true);
      expect(s.actions.some((a) => a.includes('*'))).toBe(false);
    }
  });

  it('adds ram:PassRole on the configured BYOK roles only', () => {
    // Act
    const byok = permissionsFor({
      encryptType: 'default',
      userCmkInfo: { keyId: 'k', roleArn: ROLE, regionId: 'cn-hangzhou' },
      byRegion: {
        'cn-beijing': { keyId: 'k2', roleArn: 'acs:ram::1234567890123456:role/bj', regionId: 'cn-beijing' },
      },
    });

    // Assess
    expect(permissionsFor({ encryptType: 'default' })).toBe(permissions);
    expect(byok.statements.at(-1)).toMatchObject({
      actions: ['ram:PassRole'],
      resources: ['acs:ram::1234567890123456:role/aliyunlogdefaultrole', 'acs:ram::1234567890123456:role/bj'],
    });
  });
});
