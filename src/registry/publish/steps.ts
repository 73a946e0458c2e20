/**
 * The steps of a publish and of a delete, in order. A test hook may stop the
 * process at any of them (src/server.ts, off unless a test asks) to prove that a
 * crash leaves either the whole change or none of it.
 */
export type PublishStep = 'staged' | 'verified' | 'blob-written' | 'committed' | 'indexed';
export type DeleteStep = 'tombstoned' | 'record-deleted' | 'blob-deleted';
export type StepHook = (step: PublishStep | DeleteStep) => void;
