import type { Logger } from 'pino';
import type { ConnectorRuntime } from '../../connectors/connector-runtime.ts';
import type { GuardrailSettings } from '../../connectors/guardrails.ts';
import type { Clock } from '../../core/clock.ts';
import type { ChatSender } from '../../core/message.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import type { MemoryStore } from '../../memory/memory-store.ts';
import type { Planner } from '../agents/synthesizer.ts';

/** Everything the goal graph's nodes use, passed in when the graph is built. */
export interface GoalGraphDeps {
  repos: Repositories;
  memory: MemoryStore;
  connectors: ConnectorRuntime;
  chat: ChatSender;
  planner: Planner;
  clock: Clock;
  logger: Logger;
  /** Trust, daily limits and the undo window; defaults when absent. */
  guardrails?: GuardrailSettings;
}
