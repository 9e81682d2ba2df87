// Prebuilds the workflow bundle for the worker images: webpack-bundles workflows/index.ts once at image
// build time, so a control worker starts without bundling (seconds and ~300 MB less at start-up).
//
//   npx tsx deploy/docker/bundle-workflows.ts [OUT]      (default dist/workflow-bundle.js)
//
// The worker uses it when RLHF_WORKFLOW_BUNDLE=OUT is set (Worker option workflowBundle: { codePath }).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOWS_ENTRY = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Bundles `workflowsPath` and writes the bundle to `outPath`; returns its size in bytes. */
export async function writeWorkflowBundle(outPath: string, workflowsPath: string = WORKFLOWS_ENTRY): Promise<number> {
  try {
    await stat(workflowsPath);
  } catch {
    throw new Error(`workflows not found: ${workflowsPath} does not exist`);
  }
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  await mkdir(dirname(outPath), { recursive: true });
  await writeFile(outPath, code);
  return Buffer.byteLength(code);
}

const noop = (): void => undefined;
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  log: noop,
  warn: (message: string) => console.warn(`bundle: ${message}`),
  error: (message: string) => console.error(`bundle: ${message}`),
};

async function main(argv: string[]): Promise<void> {
  const out = resolve(argv[0] ?? 'dist/workflow-bundle.js');
  const started = Date.now();
  const bytes = await writeWorkflowBundle(out);
  console.log(`workflow bundle: ${out} (${(bytes / 1024).toFixed(0)} KiB, ${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
