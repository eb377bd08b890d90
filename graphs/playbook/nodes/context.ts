import type { ExpressionScope } from '../../../playbooks/expressions.ts';
import type { StepContext } from '../../../playbooks/step-logic.ts';
import type { PlaybookGraphDeps } from '../deps.ts';
import type { PlaybookStateType } from '../state.ts';

/** What expressions see in a live run. */
export function scopeOf(state: PlaybookStateType, now: Date): ExpressionScope {
  return {
    trigger: state.trigger,
    inputs: state.inputs,
    steps: state.steps,
    playbook: { name: state.playbookName, now: now.toISOString() },
  };
}

/** The step logic's context in a live run. */
export async function stepContext(deps: PlaybookGraphDeps, state: PlaybookStateType): Promise<StepContext> {
  const operator = await deps.repos.operators.get(state.operatorId);
  const draft = deps.draftWithModel;
  return {
    operatorId: state.operatorId,
    goalId: state.goalId,
    playbookName: state.playbookName,
    memory: deps.memory,
    now: deps.clock.now(),
    timezone: operator?.timezone ?? 'UTC',
    draftWithModel: draft ? (prompt) => draft(prompt, state.goalId) : undefined,
  };
}

/** A step does nothing once the run stopped or a `when` skipped it. */
export function inactive(state: PlaybookStateType, stepId: string): boolean {
  return state.stopped !== null || state.skipped.includes(stepId);
}
