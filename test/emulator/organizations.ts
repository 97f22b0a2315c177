/**
 * AWS Organizations `ListAccounts`, emulated at the wire for the org-wide CLI: AWS JSON 1.1
 * (`POST /`, `x-amz-target: AWSOrganizationsV20161128.ListAccounts`), SigV4 for signing name
 * `organizations`, pages of at most `MaxResults` (1–20, default 20) with an opaque `NextToken`.
 * Answers `{Accounts:[{Id, Arn, Email, Name, Status, JoinedMethod, JoinedTimestamp}], NextToken}`
 * (Organizations API reference, ListAccounts); errors as `{"__type","message"}`.
 *
 *   const org = new OrganizationsEmulator([{ id: '111122223333', name: 'central' }, …]);
 *   await org.start();            // org.url → AWS_ENDPOINT_URL_ORGANIZATIONS
 *   org.service.failNext('ListAccounts', { status: 400, code: 'AccessDeniedException', times: 1 });
 */
import { EmulatedService, ServiceFailure } from './harness.ts';
import { type Json11Body as Body, Json11Handler, secretsOf } from './sigv4.ts';

export interface OrgAccount {
  id: string;
  name?: string;
  email?: string;
  /** Default ACTIVE. */
  status?: 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE';
}

class OrganizationsHandler extends Json11Handler {
  constructor(
    private readonly accounts: () => readonly OrgAccount[],
    secrets: ReadonlyMap<string, string>,
    private readonly orgId: string,
  ) {
    super(
      {
        prefixes: ['AWSOrganizationsV20161128'],
        operations: ['ListAccounts'],
        signingName: 'organizations',
        throttle: 'TooManyRequestsException',
      },
      secrets,
    );
  }

  protected answer(_action: string, body: Body, _region: string, log: (resource: string) => void): unknown {
    const max = body.MaxResults ?? 20;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 20)
      throw new ServiceFailure(400, 'InvalidInputException', 'MaxResults must be 1..20');
    const start =
      body.NextToken === undefined ? 0 : Number(Buffer.from(String(body.NextToken), 'base64url').toString());
    if (!Number.isInteger(start) || start < 0)
      throw new ServiceFailure(400, 'InvalidInputException', 'You specified an invalid value for nextToken.');
    const all = this.accounts();
    const page = all.slice(start, start + max);
    log(`page@${start}`);
    const joined = Date.parse('2024-01-01T00:00:00Z') / 1000;
    return {
      Accounts: page.map((a) => ({
        Id: a.id,
        Arn: `arn:aws:organizations::${all[0]?.id ?? a.id}:account/${this.orgId}/${a.id}`,
        Email: a.email ?? `aws+${a.id}@example.com`,
        Name: a.name ?? `account-${a.id}`,
        Status: a.status ?? 'ACTIVE',
        JoinedMethod: 'CREATED',
        JoinedTimestamp: joined,
      })),
      ...(start + max < all.length
        ? { NextToken: Buffer.from(String(start + max)).toString('base64url') }
        : {}),
    };
  }
}

/** The organization's accounts behind `ListAccounts`; `accounts` may be changed between calls. */
export class OrganizationsEmulator {
  readonly service: EmulatedService;
  url = '';

  constructor(
    public accounts: OrgAccount[],
    options: {
      /** Access key id → secret; default the dummy pair. Pass an AccountDirectory's `awsSecrets` to accept STS keys. */
      secrets?: ReadonlyMap<string, string>;
      orgId?: string;
    } = {},
  ) {
    this.service = new EmulatedService(
      'organizations',
      new OrganizationsHandler(
        () => this.accounts,
        options.secrets ?? secretsOf(),
        options.orgId ?? 'o-emulator01',
      ),
    );
  }

  async start(port = 0): Promise<string> {
    this.url = await this.service.start(port);
    return this.url;
  }

  stop(): Promise<void> {
    return this.service.stop();
  }
}
