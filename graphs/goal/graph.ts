import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { END, START, StateGraph } from '@langchain/langgraph';
import type { GoalGraphDeps } from './deps.ts';
import { awaitApprovalNode } from './nodes/await-approval.ts';
import { executeNode } from './nodes/execute.ts';
import { guardNode } from './nodes/guard.ts';
import { planNode } from './nodes/plan.ts';
import { rememberNode } from './nodes/remember.ts';
import { reportNode } from './nodes/report.ts';
import { requestApprovalNode } from './nodes/request-approval.ts';
import { retrieveNode } from './nodes/retrieve.ts';
import { GoalState, type GoalStateType } from './state.ts';

/** After the guard: ask for approvals when any action waits for one, else go straight to execution. */
export function routeAfterGuard(state: GoalStateType): 'requestApproval' | 'execute' {
  return state.actionIds.length > 0 ? 'requestApproval' : 'execute';
}

/** After a wake-up: wait again while any approval is undecided. */
export function routeAfterAwait(state: GoalStateType): 'awaitApproval' | 'execute' {
  return state.pendingApprovals > 0 ? 'awaitApproval' : 'execute';
}

/** Build the goal graph (thread id = goal id). The checkpointer is passed in at compile time. */
export function buildGoalGraph(deps: GoalGraphDeps, checkpointer: BaseCheckpointSaver) {
  return (
    new StateGraph(GoalState)
      // Retriever: memory pointers for the message.
      .addNode('retrieve', retrieveNode(deps))
      // Synthesizer: answer and proposed actions (offline rules or a model).
      .addNode('plan', planNode(deps))
      // Policy in code: auto, approval or refuse; actions stored under idempotency keys.
      .addNode('guard', guardNode(deps))
      // Approval rows and cards (idempotent, before any interrupt).
      .addNode('requestApproval', requestApprovalNode(deps))
      // interrupt() until the operator decides.
      .addNode('awaitApproval', awaitApprovalNode(deps))
      // Executor: connector runtime, once per idempotency key.
      .addNode('execute', executeNode(deps))
      // Reply in the thread with evidence.
      .addNode('report', reportNode(deps))
      // Episode into memory.
      .addNode('remember', rememberNode(deps))
      .addEdge(START, 'retrieve')
      .addEdge('retrieve', 'plan')
      .addEdge('plan', 'guard')
      .addConditionalEdges('guard', routeAfterGuard, ['requestApproval', 'execute'])
      .addEdge('requestApproval', 'awaitApproval')
      .addConditionalEdges('awaitApproval', routeAfterAwait, ['awaitApproval', 'execute'])
      .addEdge('execute', 'report')
      .addEdge('report', 'remember')
      .addEdge('remember', END)
      .compile({ checkpointer })
  );
}

export type GoalGraph = ReturnType<typeof buildGoalGraph>;
