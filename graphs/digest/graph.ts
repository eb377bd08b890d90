import { END, START, StateGraph } from '@langchain/langgraph';
import type { DigestGraphDeps } from './deps.ts';
import { collectNode } from './nodes/collect.ts';
import { composeNode } from './nodes/compose.ts';
import { deliverNode } from './nodes/deliver.ts';
import { summarizeNode } from './nodes/summarize.ts';
import { DigestState } from './state.ts';

/**
 * Build the digest graph. No checkpointer: a digest is short, and the `digests` row claimed before
 * the run (unique per operator and local date) is what makes it exactly-once, not LangGraph.
 */
export function buildDigestGraph(deps: DigestGraphDeps) {
  return (
    new StateGraph(DigestState)
      // What got done, what waits, what is coming (reads only).
      .addNode('collect', collectNode(deps))
      // The message, with Approve/Reject and Retry/Dismiss buttons (pure).
      // Opening prose by the small model, when one is configured (skipped on any model trouble).
      .addNode('summarize', summarizeNode(deps))
      .addNode('compose', composeNode())
      // Post it, mark the daily row sent, append the event.
      .addNode('deliver', deliverNode(deps))
      .addEdge(START, 'collect')
      .addEdge('collect', 'summarize')
      .addEdge('summarize', 'compose')
      .addEdge('compose', 'deliver')
      .addEdge('deliver', END)
      .compile()
  );
}

export type DigestGraph = ReturnType<typeof buildDigestGraph>;
