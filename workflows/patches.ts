// Patch markers, one per execution. Each `patched()` that a new execution takes records a marker, and the SDK
// upserts `TemporalChangeVersion` with it: two events, a visibility write, and ~3 ms of this dev server's time in
// the workflow task that records them (a 30-step no-op workflow: 14 → 17 ms a step). A new execution took every
// patch below, up to five in one task (an iteration's first), several on the run's critical path (the stage
// children's first and last tasks, onlineDpo's first). Since `EPOCH_ID`, a new execution records one marker, and
// that marker stands for all of them; an execution whose history predates it decides per patch, as before.
// workflows/README.md has the rule for later patches.
import { patched } from '@temporalio/workflow';

/** The patches implied by `EPOCH_ID`. Never add to this list: a later patch gets its own `patched()` call (or a
 * later epoch, implying this one and it). */
export const EPOCH_PATCHES = [
  'progress-reports-in-background',
  'progress-reports-coalesced',
  'short-control-activities-local',
  'evaluation-beside-next-iteration',
  'score-shards-as-generated',
  'prepare-data-beside-base-model',
  'search-attributes-coalesced',
  'iterations-evaluate-themselves',
] as const;

export type EpochPatch = (typeof EPOCH_PATCHES)[number];

export const EPOCH_ID = 'patches-through-iterations-evaluate-themselves';

/**
 * Whether this execution takes patch `id`. A new execution records `EPOCH_ID` at its first call and takes every
 * patch of the epoch without a marker of its own. A history without that marker is replayed as it was recorded,
 * patch by patch; a running execution started by older code takes the epoch, with every patch of it, at the first
 * call it reaches live (as `patched(id)` alone would take `id` there).
 */
export function hasPatch(id: EpochPatch): boolean {
  return patched(EPOCH_ID) || patched(id);
}
