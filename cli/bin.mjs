#!/usr/bin/env node
// Launcher for `npx durable-rlhf`: runs cli/main.ts through tsx (no build step).
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const { main } = await import(fileURLToPath(new URL('./main.ts', import.meta.url)));
process.exit(await main(process.argv.slice(2)));
