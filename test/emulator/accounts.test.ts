/**
 * The account emulators against the real clients: AWS STS with @aws-sdk/client-sts (through
 * functions/aws/accounts.ts), Alibaba Cloud STS and Resource Directory with
 * @alicloud/openapi-client (through functions/alicloud/accounts.ts and AlicloudApi), AWS
 * Organizations with a SigV4-signed JSON 1.1 request. Issued keys select their account's state.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlicloudAccounts } from '../../functions/alicloud/accounts.ts';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { AwsAccounts } from '../../functions/aws/accounts.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type AlicloudStsEmulator, startAlicloudSts } from './alicloud-sts.ts';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from './cloudwatch-logs.ts';
import { AccountDirectory, type EmulatedService } from './harness.ts';
import { OrganizationsEmulator } from './organizations.ts';
import { ResourceDirectoryEmulator } from './resourcemanager.ts';
import { type StsEmulator, startSts } from './sts.ts';

const AWS_CENTRAL = '111122223333';
const ALI_CENTRAL = '1234567890123456';

describe('AWS STS emulator', () => {
  let now = Date.now();
  const directory = new AccountDirectory(AWS_CENTRAL, { now: () => now });
  let sts: StsEmulator;
  let logs: EmulatedService;

  beforeAll(async () => {
    ({ service: logs } = await startCloudWatchLogs({ accounts: directory }));
    sts = await startSts(directory);
    sts.seedRole('222233334444', 'atrest-member');
    sts.seedRole('333344445555', 'atrest-member', { deny: true });
    process.env.AWS_ENDPOINT_URL_STS = sts.url;
    process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_STS;
    await Promise.all([sts.stop(), logs.stop()]);
  });

  it('GetCallerIdentity names the base key’s account', async () => {
    expect(await new AwsAccounts({ region: 'us-east-1' }).caller()).toEqual({
      account: AWS_CENTRAL,
      partition: 'aws',
    });
  });

  it('AssumeRole issues a key of the member account, valid for the requested lifetime', async () => {
    const creds = await new AwsAccounts({ region: 'us-east-1', durationSeconds: 900 }).assume(
      '222233334444',
      'atrest-member',
      'aws',
    );

    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(directory.accountOf(creds.accessKeyId)).toBe('222233334444');
    expect(Math.abs(creds.expiresAt - (now + 900_000))).toBeLessThan(1000);
    now += 901_000;
    expect(directory.expired(creds.accessKeyId)).toBe(true);
  });

  it('a role that does not trust the caller: AccessDenied with the request id', async () => {
    const error = await new AwsAccounts({ region: 'us-east-1' })
      .assume('333344445555', 'atrest-member', 'aws')
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'DeniedError', code: 'AccessDenied', status: 403 });
    expect((error as { requestId?: string }).requestId).toMatch(/^emu-/);
  });

  it('an unsigned or wrongly signed request is refused like STS does', async () => {
    const response = await fetch(sts.url, {
      method: 'POST',
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>MissingAuthenticationTokenException</Code>');
  });
});

describe('Alibaba Cloud STS emulator', () => {
  let now = Date.now();
  const directory = new AccountDirectory(ALI_CENTRAL, { now: () => now });
  let sts: AlicloudStsEmulator;
  const env = () => ({ ALIBABA_CLOUD_ENDPOINT_STS: sts.url });
  const accounts = () =>
    new AlicloudAccounts({
      credentials: () => EMULATOR_CREDENTIALS,
      env: env(),
      region: () => 'cn-hangzhou',
    });

  beforeAll(async () => {
    sts = await startAlicloudSts(directory);
    sts.seedRole('2000000000000001', 'atrest-member');
    sts.seedRole('2000000000000002', 'atrest-member', { deny: true });
  });
  afterAll(() => sts.stop());

  it('GetCallerIdentity names the base key’s account, then the assumed role’s', async () => {
    expect(await accounts().caller()).toBe(ALI_CENTRAL);
    const creds = await accounts().assume('2000000000000001', 'atrest-member');
    const asMember = new AlicloudAccounts({
      credentials: () => creds,
      env: env(),
      region: () => 'cn-hangzhou',
    });

    expect(creds.accessKeyId).toMatch(/^STS\./);
    expect(await asMember.caller()).toBe('2000000000000001');
  });

  it('refuses an issued key after it expired', async () => {
    const creds = await accounts().assume('2000000000000001', 'atrest-member');
    now += 3601_000;
    const asMember = new AlicloudAccounts({
      credentials: () => creds,
      env: env(),
      region: () => 'cn-hangzhou',
    });

    await expect(asMember.caller()).rejects.toMatchObject({ code: 'InvalidSecurityToken.Expired' });
  });

  it.each([
    ['2000000000000002', 'NoPermission'],
    ['2000000000000003', 'EntityNotExist.Role'],
  ])('AssumeRole into %s is refused with %s and the request id', async (account, code) => {
    const error = await accounts()
      .assume(account, 'atrest-member')
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'DeniedError', code });
    expect((error as { requestId?: string }).requestId).toMatch(/^emu-/);
  });
});

describe('account listings', () => {
  it('Organizations ListAccounts pages with NextToken (SigV4, JSON 1.1)', async () => {
    const ids = Array.from({ length: 45 }, (_, i) => String(100000000000 + i));
    const org = new OrganizationsEmulator(ids.map((id) => ({ id })));
    await org.start();
    try {
      const signer = new SignatureV4({
        credentials: DUMMY_CREDENTIALS,
        region: 'us-east-1',
        service: 'organizations',
        sha256: class {
          private readonly h;
          constructor(secret?: unknown) {
            this.h =
              secret === undefined
                ? createHash('sha256')
                : createHmac('sha256', secret as string | Uint8Array);
          }
          update(data: string | Uint8Array) {
            this.h.update(data);
          }
          async digest() {
            return new Uint8Array(this.h.digest());
          }
        },
      });
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const body = JSON.stringify({ ...(token ? { NextToken: token } : {}) });
        const url = new URL(org.url);
        const signed = await signer.sign({
          method: 'POST',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/',
          headers: {
            host: url.host,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'AWSOrganizationsV20161128.ListAccounts',
          },
          body,
        });
        const response = await fetch(org.url, { method: 'POST', headers: signed.headers, body });
        expect(response.status).toBe(200);
        const page = (await response.json()) as {
          Accounts: { Id: string; Status: string }[];
          NextToken?: string;
        };
        seen.push(...page.Accounts.map((a) => a.Id));
        token = page.NextToken;
        pages += 1;
      } while (token !== undefined && pages < 10);

      expect(seen).toEqual(ids);
      expect(pages).toBe(3);
    } finally {
      await org.stop();
    }
  });

  it('Resource Directory ListAccounts pages by PageNumber (ACS3, the real client)', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => String(3000000000000000 + i));
    const rd = new ResourceDirectoryEmulator(ids.map((id) => ({ id })));
    await rd.start();
    try {
      const api = new AlicloudApi({
        credentials: () => EMULATOR_CREDENTIALS,
        env: { ALIBABA_CLOUD_ENDPOINT_RESOURCEMANAGER: rd.url },
      });
      const seen: string[] = [];
      for (let page = 1; page <= 10; page++) {
        const { body } = await api.rpc('RESOURCEMANAGER', 'cn-hangzhou', 'ListAccounts', '2020-03-31', {
          PageNumber: String(page),
          PageSize: '10',
        });
        const accounts = (body.Accounts as { Account: { AccountId: string }[] }).Account;
        seen.push(...accounts.map((a) => a.AccountId));
        if (seen.length >= (body.TotalCount as number)) break;
      }
      expect(seen).toEqual(ids);
    } finally {
      await rd.stop();
    }
  });
});
