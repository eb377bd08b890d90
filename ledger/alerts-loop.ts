import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ConnectorHealth } from '../connectors/resilience.ts';
import type { Clock } from '../core/clock.ts';
import type { ChatSender } from '../core/message.ts';
import type { Queryable } from '../db/database.ts';
import { BusinessAlerts, reportCircuits } from './alerts.ts';
import type { AlertRules } from './alerts-config.ts';
import { BusinessMetrics, type MinutesSavedTable } from './business-metrics.ts';

/** This process's name in `connector_circuits`. */
export const PROCESS_NAME = `${hostname()}:${process.pid}`;

export interface AlertLoopOptions {
  db: Queryable;
  clock: Clock;
  logger: Logger;
  everyMs: number;
  /** This process's connector circuits, reported on every tick. */
  health: () => ConnectorHealth[];
  /** Set in processes that evaluate the rules (main processes); workers only report circuits. */
  alerts?: BusinessAlerts;
}

/**
 * The alert tick: report this process's circuits, then (main processes) evaluate the rules. A
 * timer in each process rather than a queue job, so an alert about a broken queue still goes
 * out when Redis is down; the dedupe key makes several main processes evaluating at once safe.
 * Returns `tick` (run it right after a failure) and `stop`.
 */
export function startAlertLoop(options: AlertLoopOptions): { tick(): Promise<void>; stop(): void } {
  let running: Promise<void> | undefined;
  const tick = () => {
    // One tick at a time: a slow database must not pile evaluations up.
    running ??= (async () => {
      try {
        await reportCircuits(options.db, {
          process: PROCESS_NAME,
          health: options.health(),
          now: options.clock.now(),
        });
        await options.alerts?.evaluate();
      } catch (error) {
        options.logger.warn({ err: String(error) }, 'alert evaluation failed; the next tick tries again');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void tick(), options.everyMs);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}

/** The ledger's running parts, built once per process by the composition root. */
export interface BusinessLedger {
  metrics: BusinessMetrics;
  alerts: BusinessAlerts;
  /** Start the alert tick: `evaluate` in main processes; workers only report their circuits. */
  start(evaluate: boolean): void;
  /** Run a tick now (after a failure); does nothing before `start`. */
  tick(): void;
  stop(): void;
}

/** Business metrics and alerts over one database, posting alerts through `chat`. */
export function createBusinessLedger(options: {
  db: Queryable;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  minutesSaved: MinutesSavedTable;
  rules: AlertRules;
  dailyBudgetUsd: number | null;
  health: () => ConnectorHealth[];
}): BusinessLedger {
  const { db, chat, clock, logger, rules } = options;
  const alerts = new BusinessAlerts({
    db,
    chat,
    clock,
    logger,
    rules,
    dailyBudgetUsd: options.dailyBudgetUsd,
  });
  let loop: ReturnType<typeof startAlertLoop> | undefined;
  return {
    metrics: new BusinessMetrics(db, { minutesSaved: options.minutesSaved }),
    alerts,
    start(evaluate) {
      loop ??= startAlertLoop({
        db,
        clock,
        logger,
        everyMs: rules.intervalMs,
        health: options.health,
        ...(evaluate ? { alerts } : {}),
      });
    },
    tick() {
      void loop?.tick();
    },
    stop() {
      loop?.stop();
    },
  };
}
