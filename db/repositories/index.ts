import type { Queryable } from '../database.ts';
import { ActionRepository } from './actions.ts';
import { ApprovalRepository } from './approvals.ts';
import { ConnectorStateRepository } from './connector-state.ts';
import { DigestFactsRepository } from './digest-facts.ts';
import { DigestRepository } from './digests.ts';
import { EventRepository } from './events.ts';
import { FailureRepository } from './failures.ts';
import { GoalRepository } from './goals.ts';
import { InboxRepository } from './inbox.ts';
import { OperatorRepository } from './operators.ts';

/** Every repository over one connection (the pool, or a client inside a transaction). */
export interface Repositories {
  operators: OperatorRepository;
  goals: GoalRepository;
  actions: ActionRepository;
  approvals: ApprovalRepository;
  events: EventRepository;
  failures: FailureRepository;
  inbox: InboxRepository;
  digests: DigestRepository;
  digestFacts: DigestFactsRepository;
  /** Targets, schedules, compensations, daily usage and trust rules (guardrails). */
  connectorState: ConnectorStateRepository;
}

export function createRepositories(db: Queryable): Repositories {
  return {
    operators: new OperatorRepository(db),
    goals: new GoalRepository(db),
    actions: new ActionRepository(db),
    approvals: new ApprovalRepository(db),
    events: new EventRepository(db),
    failures: new FailureRepository(db),
    inbox: new InboxRepository(db),
    digests: new DigestRepository(db),
    digestFacts: new DigestFactsRepository(db),
    connectorState: new ConnectorStateRepository(db),
  };
}
