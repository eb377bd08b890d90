import { interrupt } from '@langchain/langgraph';
import { hashParams, type PreparedAction } from '../../../connectors/connector-runtime.ts';
import { CHECKPOINT_CONNECTOR } from '../../../core/policy.ts';
import type { PlaybookStep } from '../../../playbooks/playbook-format.ts';
import {
  actionProposals,
  checkpointContent,
  runDraft,
  runRecall,
  runWhen,
  wakeAt,
} from '../../../playbooks/step-logic.ts';
import { executeAction } from '../../agents/executor.ts';
import { awaitApprovalNode } from '../../goal/nodes/await-approval.ts';
import { guardProposals } from '../../goal/nodes/guard.ts';
import { requestApprovalNode } from '../../goal/nodes/request-approval.ts';
import type { GoalStateType } from '../../goal/state.ts';
import type { PlaybookGraphDeps } from '../deps.ts';
import type { PlaybookStateType, PlaybookStateUpdate } from '../state.ts';
import { inactive, scopeOf, stepContext } from './context.ts';

type StepOf<K extends string> = Extract<PlaybookStep, Record<K, unknown>>;
type Node = (state: PlaybookStateType) => Promise<PlaybookStateUpdate>;

/** `recall`, `draft` and `when`: one node each, no side-effect. */
export function computeNode(deps: PlaybookGraphDeps, step: PlaybookStep): Node {
  return async (state) => {
    if (inactive(state, step.id)) return {};
    const scope = scopeOf(state, deps.clock.now());
    const context = await stepContext(deps, state);
    if ('recall' in step)
      return { steps: { ...state.steps, [step.id]: await runRecall(step, scope, context) } };
    if ('draft' in step)
      return { steps: { ...state.steps, [step.id]: await runDraft(step, scope, context) } };
    if ('when' in step) {
      const verdict = await runWhen(step, scope);
      const steps = { ...state.steps, [step.id]: verdict.passed };
      if (verdict.passed) return { steps };
      if (verdict.skip === 'rest')
        return { steps, stopped: `the condition of step “${step.id}” was false, so there was nothing to do` };
      return { steps, skipped: [...state.skipped, ...verdict.skip] };
    }
    return {};
  };
}

/**
 * `action`: the proposals through the goal graph's guard (policy, guardrails, stored once under
 * `playbook-<goal>-<step>-<n>`), so a playbook can do nothing a chat message could not.
 */
export function proposeNode(deps: PlaybookGraphDeps, step: StepOf<'action'>): Node {
  return async (state) => {
    if (inactive(state, step.id)) return { stepActions: { ...state.stepActions, [step.id]: [] } };
    const proposals = await actionProposals(
      step,
      scopeOf(state, deps.clock.now()),
      await stepContext(deps, state),
    );
    const guarded = await guardProposals(deps, {
      goalId: state.goalId,
      operatorId: state.operatorId,
      proposals,
      keyOf: (index) => `playbook-${state.goalId}-${step.id}-${index + 1}`,
    });
    return {
      stepActions: { ...state.stepActions, [step.id]: guarded.actionIds },
      notes: [...state.notes, ...guarded.guardNotes],
    };
  };
}

/**
 * `checkpoint`: an action of Spine's own (`playbook.checkpoint`) that always waits for the operator,
 * whatever the policy; the actions after it still go through the policy on their own.
 */
export function checkpointNode(deps: PlaybookGraphDeps, step: StepOf<'checkpoint'>): Node {
  return async (state) => {
    if (inactive(state, step.id)) return { stepActions: { ...state.stepActions, [step.id]: [] } };
    const content = await checkpointContent(step, scopeOf(state, deps.clock.now()));
    const params = {
      playbook: state.playbookName,
      step: step.id,
      message: content.message,
      shown: content.shown,
    };
    const prepared: PreparedAction = {
      connector: CHECKPOINT_CONNECTOR,
      operation: 'checkpoint',
      params,
      paramsHash: hashParams(params),
      risk: 'write',
      reversible: false,
      external: false,
      preview: {
        title: `Playbook ${state.playbookName}: ${content.message}`,
        doing: `continuing the playbook ${state.playbookName} after “${content.message}”`,
        done: `continued the playbook ${state.playbookName}`,
        fields: content.shown.map((value, index) => ({
          label: content.shown.length === 1 ? 'Draft' : `Draft ${index + 1}`,
          value,
        })),
      },
      why: `checkpoint “${step.id}” of the playbook ${state.playbookName}`,
      target: `playbook:${state.playbookName}`,
      amount: null,
    };
    const stored = await deps.connectors.record(prepared, {
      goalId: state.goalId,
      operatorId: state.operatorId,
      idempotencyKey: `playbook-${state.goalId}-${step.id}-checkpoint`,
      status: 'awaiting_approval',
    });
    return { stepActions: { ...state.stepActions, [step.id]: [stored.action.id] } };
  };
}

/** The approval cards of a step's actions: the goal graph's node, on this step's actions. */
export function requestStepApprovalNode(deps: PlaybookGraphDeps, stepId: string): Node {
  const node = requestApprovalNode(deps);
  return async (state) => {
    const update = await node(asGoalState(state, state.stepActions[stepId] ?? []));
    return { pendingApprovals: update.pendingApprovals ?? 0 };
  };
}

/** `interrupt()` until the operator decides: the goal graph's node (it re-runs from its top on resume). */
export function awaitStepApprovalNode(deps: PlaybookGraphDeps, stepId: string): Node {
  const node = awaitApprovalNode(deps);
  return async (state) => {
    const update = await node(asGoalState(state, state.stepActions[stepId] ?? []));
    return { pendingApprovals: update.pendingApprovals ?? 0 };
  };
}

/** Run the step's approved actions once each (the goal graph's executor); outputs into `steps.<id>`. */
export function executeStepNode(deps: PlaybookGraphDeps, step: StepOf<'action'>): Node {
  return async (state) => {
    const actionIds = state.stepActions[step.id] ?? [];
    if (inactive(state, step.id) && actionIds.length === 0) return {};
    const outcomes = [...state.outcomes];
    const results: unknown[] = [];
    for (const actionId of actionIds) {
      const action = await deps.repos.actions.get(actionId);
      if (!action) continue;
      const outcome = await executeAction(deps, action);
      outcomes.push(outcome);
      const after = await deps.repos.actions.get(actionId);
      results.push(after?.status === 'succeeded' ? after.result : null);
    }
    const output = step.forEach ? results : (results[0] ?? null);
    return { outcomes, steps: { ...state.steps, [step.id]: output } };
  };
}

/** After a checkpoint: rejected stops the run. */
export function checkpointDecisionNode(deps: PlaybookGraphDeps, stepId: string): Node {
  return async (state) => {
    const [actionId] = state.stepActions[stepId] ?? [];
    if (actionId === undefined) return {};
    const action = await deps.repos.actions.get(actionId);
    const approved = action?.status === 'approved' || action?.status === 'succeeded';
    if (approved) return { steps: { ...state.steps, [stepId]: 'approved' } };
    return {
      steps: { ...state.steps, [stepId]: 'rejected' },
      stopped: `you stopped it at the checkpoint “${stepId}”`,
    };
  };
}

/** `wait`, first half: fix the wake-up time once and mark the run waiting. */
export function planWaitNode(deps: PlaybookGraphDeps, step: StepOf<'wait'>): Node {
  return async (state) => {
    if (inactive(state, step.id)) return {};
    const existing = state.wakeAt[step.id];
    const context = await stepContext(deps, state);
    const at = existing ? new Date(existing) : wakeAt(step, context.now, context.timezone);
    await deps.store.setRunStatus(state.runId, 'waiting', at);
    return { wakeAt: { ...state.wakeAt, [step.id]: at.toISOString() } };
  };
}

/** `wait`, second half: `interrupt()` until the wake-up job resumes it after the time. */
export function sleepNode(deps: PlaybookGraphDeps, stepId: string): Node {
  return async (state) => {
    const at = state.wakeAt[stepId];
    if (at && deps.clock.now().getTime() < new Date(at).getTime()) interrupt({ wakeAt: at });
    if (at && deps.clock.now().getTime() >= new Date(at).getTime())
      await deps.store.setRunStatus(state.runId, 'running');
    return {};
  };
}

/** The goal graph's nodes read these fields of their state; a playbook step supplies its own. */
function asGoalState(state: PlaybookStateType, actionIds: number[]): GoalStateType {
  return {
    goalId: state.goalId,
    operatorId: state.operatorId,
    actionIds,
    pendingApprovals: state.pendingApprovals,
  } as GoalStateType;
}
