import type { Action } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import type { ConnectorStateRepository } from '../db/repositories/connector-state.ts';
import { type ConnectorRuntime, hashParams, UNDO_SUFFIX } from './connector-runtime.ts';

/**
 * Store the compensation of a succeeded, reversible action as an approved action with `undo_of`
 * (key `undo-<id>`), ready for the runtime to execute once. Calling it again returns the same row.
 */
export async function recordCompensation(
  runtime: ConnectorRuntime,
  state: ConnectorStateRepository,
  original: Action,
  why: string,
): Promise<{ action: Action; created: boolean }> {
  if (original.undoOf) {
    throw new SpineError('undo.of_undo', `Action #${original.id} is itself an undo; it cannot be undone.`, {
      category: 'user',
    });
  }
  if (original.status !== 'succeeded') {
    throw new SpineError(
      'undo.not_done',
      `Action #${original.id} is ${original.status.replace('_', ' ')}, so there is nothing to undo.`,
      { category: 'user' },
    );
  }
  const name = `${original.operation}${UNDO_SUFFIX}`;
  const operation = runtime.operation(original.connector, name);
  const params = { params: original.params, result: original.result ?? null };
  return state.insertCompensation({
    original,
    operation: name,
    params,
    paramsHash: hashParams(params),
    risk: operation.risk,
    preview: await operation.simulate(params),
    why,
  });
}
