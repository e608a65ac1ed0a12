/**
 * Moved to `src/internal/validate.ts` (below every folder that validates, so `config/`, which
 * imports `providers/` and `task-types/`, is not imported back by them). Kept for
 * `src/runtime/engine.ts` until its import names the new home; then delete this file.
 */
export * from '../internal/validate.js';
