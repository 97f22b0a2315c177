#!/usr/bin/env node
// `npm start`: the five remediations end to end against the bundled emulator, offline.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
const { runDemo } = await import('./demo.ts');
process.exitCode = await runDemo();
