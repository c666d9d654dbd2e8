#!/usr/bin/env node
// Runs the TypeScript sources through tsx so `npm ci` is the only install step (no build).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
