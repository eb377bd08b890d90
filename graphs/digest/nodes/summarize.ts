import type { DigestGraphDeps } from '../deps.ts';
import type { DigestStateType, DigestStateUpdate } from '../state.ts';

/** A short prose summary by the small model, when one is configured; the digest never waits on it failing. */
export function summarizeNode(deps: DigestGraphDeps) {
  return async (state: DigestStateType): Promise<DigestStateUpdate> => {
    if (!state.facts || !deps.prose) return {};
    const prose = await deps.prose(state.operatorId, state.facts);
    return prose ? { facts: { ...state.facts, prose } } : {};
  };
}
