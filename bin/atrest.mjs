#!/usr/bin/env node
// The `atrest` CLI entry: runs the TypeScript sources through tsx (the CLI is never deployed, so
// there is no build step to forget). The AWS SDK's Node 20 notice is not for our users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../functions/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
