// Bundles the foundation test workflows once per test file, without webpack's build report in the output.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

export function bundleFoundationWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./workflows/index.ts', import.meta.url)), logger: quiet });
}
