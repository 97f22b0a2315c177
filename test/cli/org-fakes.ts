/**
 * Minimal account-listing fakes for the org-wide CLI tests, speaking the real protocols:
 * - AWS Organizations `ListAccounts`: AWS JSON 1.1 (`X-Amz-Target: AWSOrganizationsV20161128.ListAccounts`),
 *   SigV4 for signing name `organizations`, `MaxResults` ≤ 20 and `NextToken` paging, errors as
 *   `{"__type","Message"}` with `x-amzn-RequestId`.
 * - Alibaba Cloud Resource Directory `ListAccounts`: RPC (ACS3 signed, `x-acs-action`,
 *   `x-acs-version: 2020-03-31`), `PageNumber` / `PageSize` ≤ 100, answer
 *   `{"Accounts":{"Account":[{"AccountId","Status",…}]},"TotalCount","PageNumber","PageSize","RequestId"}`
 *   (the shape the Terraform provider's alicloud_resource_manager_accounts reads).
 * Replaced by the emulator's own fakes (test/emulator/organizations.ts, resourcemanager.ts) once those exist.
 */
import { type Acs3Credential, Acs3Verifier, acs3Action, jsonAnswer, rpcError } from '../emulator/acs3.ts';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from '../emulator/harness.ts';
import { header, secretsOf, verifySigV4 } from '../emulator/sigv4.ts';

export interface FakeAccount {
  id: string;
  /** AWS: ACTIVE | SUSPENDED | PENDING_CLOSURE. Alibaba Cloud: CreateSuccess, InviteSuccess, CreateVerifying… */
  status: string;
}

class OrganizationsHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'TooManyRequestsException' };
  private readonly secrets = secretsOf();

  constructor(private readonly accounts: readonly FakeAccount[]) {}

  action(ctx: RequestContext): string {
    const target = header(ctx.req.headers, 'x-amz-target') ?? '';
    return target.startsWith('AWSOrganizationsV20161128.')
      ? target.slice('AWSOrganizationsV20161128.'.length)
      : 'Unknown';
  }

  isWrite(): boolean {
    return false;
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return {
      status,
      body: JSON.stringify({ __type: code, Message: message }),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
    };
  }

  async handle(ctx: RequestContext, action: string): Promise<Answer> {
    await verifySigV4(ctx, this.secrets, 'organizations');
    if (header(ctx.req.headers, 'content-type') !== 'application/x-amz-json-1.1')
      throw new ServiceFailure(400, 'SerializationException', 'expected application/x-amz-json-1.1');
    if (action !== 'ListAccounts') throw new ServiceFailure(400, 'UnknownOperationException', action);
    const input = JSON.parse(ctx.body.toString('utf8') || '{}') as {
      MaxResults?: number;
      NextToken?: string;
    };
    const size = input.MaxResults ?? 20;
    if (!Number.isInteger(size) || size < 1 || size > 20)
      throw new ServiceFailure(400, 'InvalidInputException', 'MaxResults must be 1..20');
    const start = input.NextToken ? Number(input.NextToken.replace('page-', '')) : 0;
    const page = this.accounts.slice(start, start + size);
    const next = start + size < this.accounts.length ? `page-${start + size}` : undefined;
    const requestId = nextRequestId();
    return {
      status: 200,
      body: JSON.stringify({
        Accounts: page.map((a) => ({
          Id: a.id,
          Arn: `arn:aws:organizations::111122223333:account/o-exampleorgid/${a.id}`,
          Email: `${a.id}@example.com`,
          Name: `account-${a.id}`,
          Status: a.status,
          JoinedMethod: 'CREATED',
          JoinedTimestamp: 1.7e9,
        })),
        ...(next ? { NextToken: next } : {}),
      }),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
    };
  }
}

class ResourceDirectoryHandler implements ServiceHandler {
  readonly throttle = { status: 400, code: 'Throttling.User' };
  private readonly verifier: Acs3Verifier;

  constructor(
    private readonly accounts: readonly FakeAccount[],
    credentials?: Acs3Credential[],
  ) {
    this.verifier = new Acs3Verifier(credentials);
  }

  action(ctx: RequestContext): string {
    return acs3Action(ctx);
  }

  isWrite(): boolean {
    return false;
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return rpcError(status, code, message, requestId, 'resourcemanager.aliyuncs.com');
  }

  handle(ctx: RequestContext, action: string): Answer {
    this.verifier.check(ctx);
    if (ctx.req.headers['x-acs-version'] !== '2020-03-31')
      throw new ServiceFailure(400, 'InvalidVersion', 'x-acs-version must be 2020-03-31');
    if (action !== 'ListAccounts') throw new ServiceFailure(404, 'InvalidAction.NotFound', action);
    const query = ctx.url.searchParams;
    const pageNumber = Number(query.get('PageNumber') ?? '1');
    const pageSize = Number(query.get('PageSize') ?? '10');
    if (!(pageSize >= 1 && pageSize <= 100))
      throw new ServiceFailure(400, 'InvalidParameter.PageSize', 'PageSize must be 1..100');
    const page = this.accounts.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    const requestId = nextRequestId();
    return jsonAnswer(
      200,
      {
        RequestId: requestId,
        TotalCount: this.accounts.length,
        PageNumber: pageNumber,
        PageSize: pageSize,
        Accounts: {
          Account: page.map((a) => ({
            AccountId: a.id,
            DisplayName: `member-${a.id}`,
            Status: a.status,
            Type: 'ResourceAccount',
            FolderId: 'fd-example',
            ResourceDirectoryId: 'rd-example',
            JoinMethod: 'created',
          })),
        },
      },
      requestId,
    );
  }
}

export async function startOrganizations(accounts: readonly FakeAccount[]): Promise<EmulatedService> {
  const service = new EmulatedService('organizations', new OrganizationsHandler(accounts));
  await service.start();
  return service;
}

export async function startResourceDirectory(accounts: readonly FakeAccount[]): Promise<EmulatedService> {
  const service = new EmulatedService('resourcemanager', new ResourceDirectoryHandler(accounts));
  await service.start();
  return service;
}
