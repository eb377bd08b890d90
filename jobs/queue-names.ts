/** The one BullMQ queue every Spine job goes through (job names tell them apart). */
export const QUEUE_NAME = 'jobs';

/** The Redis pub/sub channel workers ring after writing a chat message to the outbox (a hint only). */
export function chatDoorbellKey(prefix: string): string {
  return `${prefix}:chat:doorbell`;
}

/** The job scheduler id of an operator's daily digest. */
export function digestSchedulerId(operatorId: number): string {
  return `digest-${operatorId}`;
}

/** The job scheduler id of the periodic maintenance (recovery and digest checks). */
export const MAINTENANCE_SCHEDULER_ID = 'maintenance';
