import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { END, START, StateGraph } from '@langchain/langgraph';
import type { Playbook } from '../../playbooks/playbook-format.ts';
import type { PlaybookGraphDeps } from './deps.ts';
import { finishNode } from './nodes/finish.ts';
import {
  awaitStepApprovalNode,
  checkpointDecisionNode,
  checkpointNode,
  computeNode,
  executeStepNode,
  planWaitNode,
  proposeNode,
  requestStepApprovalNode,
  sleepNode,
} from './nodes/steps.ts';
import { PlaybookState, type PlaybookStateType, type PlaybookStateUpdate } from './state.ts';

/** After a step's approval cards: wait while any is undecided. */
export function routeAfterAwait(next: string, again: string) {
  return (state: PlaybookStateType): string => (state.pendingApprovals > 0 ? again : next);
}

/**
 * Compile one playbook version to a graph: each step becomes a node (an action or checkpoint step
 * becomes propose → approval cards → interrupt → execute/decide, the goal graph's approval path),
 * chained in order, then `finish`. The thread id is `playbook-<goal id>`; the checkpointer is
 * passed in at compile time.
 */
export function buildPlaybookGraph(
  playbook: Playbook,
  deps: PlaybookGraphDeps,
  checkpointer: BaseCheckpointSaver,
) {
  // Node names are dynamic (the step ids), so the builder is typed loosely here.
  const graph = new StateGraph(PlaybookState) as unknown as LooseGraph;
  // Node names get a prefix: a step id may equal a state field (`notes`, `steps`), which LangGraph refuses.
  const firsts = playbook.steps.map((step) => nodeName(step.id));
  const nextOf = (index: number) => firsts[index + 1] ?? 'finish';
  graph.addNode('finish', finishNode(deps));
  for (const [index, step] of playbook.steps.entries()) {
    const id = nodeName(step.id);
    const next = nextOf(index);
    if ('action' in step || 'checkpoint' in step) {
      const approve = `${id}__approve`;
      const wait = `${id}__await`;
      const after = `${id}__done`;
      graph.addNode(id, 'action' in step ? proposeNode(deps, step) : checkpointNode(deps, step));
      graph.addNode(approve, requestStepApprovalNode(deps, step.id));
      graph.addNode(wait, awaitStepApprovalNode(deps, step.id));
      graph.addNode(
        after,
        'action' in step ? executeStepNode(deps, step) : checkpointDecisionNode(deps, step.id),
      );
      graph.addEdge(id, approve);
      graph.addEdge(approve, wait);
      graph.addConditionalEdges(wait, routeAfterAwait(after, wait), [after, wait]);
      graph.addEdge(after, next);
    } else if ('wait' in step) {
      const sleep = `${id}__sleep`;
      graph.addNode(id, planWaitNode(deps, step));
      graph.addNode(sleep, sleepNode(deps, step.id));
      graph.addEdge(id, sleep);
      graph.addConditionalEdges(
        sleep,
        (state: PlaybookStateType) => sleepRoute(state, step.id, deps, next, sleep),
        [next, sleep],
      );
    } else {
      graph.addNode(id, computeNode(deps, step));
      graph.addEdge(id, next);
    }
  }
  graph.addEdge(START, firsts[0] ?? 'finish');
  graph.addEdge('finish', END);
  return graph.compile({ checkpointer }) as unknown as PlaybookGraph;
}

/** The graph node of a step. */
export function nodeName(stepId: string): string {
  return `step_${stepId}`;
}

/** After a wake-up: sleep again until the time has come. */
function sleepRoute(
  state: PlaybookStateType,
  id: string,
  deps: PlaybookGraphDeps,
  next: string,
  sleep: string,
): string {
  const at = state.wakeAt[id];
  return at && deps.clock.now().getTime() < new Date(at).getTime() ? sleep : next;
}

type Node = (state: PlaybookStateType) => Promise<PlaybookStateUpdate>;
interface LooseGraph {
  addNode(name: string, node: Node): LooseGraph;
  addEdge(from: string, to: string): LooseGraph;
  addConditionalEdges(
    from: string,
    route: (state: PlaybookStateType) => string,
    targets: string[],
  ): LooseGraph;
  compile(options: { checkpointer: BaseCheckpointSaver }): unknown;
}

/** The compiled graph of one version, as the job runner uses it. */
export type PlaybookGraph = ReturnType<StateGraph<typeof PlaybookState.spec>['compile']>;
