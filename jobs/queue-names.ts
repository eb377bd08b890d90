/** The one BullMQ queue every Spine job goes through (job names tell them apart). */
export const QUEUE_NAME = 'jobs';

/** The Redis pub/sub channel that carries outbound chat messages of one chat channel. */
export function chatChannelKey(prefix: string, channel: string): string {
  return `${prefix}:chat:${channel}`;
}

/** The job scheduler id of an operator's daily digest. */
export function digestSchedulerId(operatorId: number): string {
  return `digest-${operatorId}`;
}

/** The job scheduler id of the periodic maintenance (recovery and digest checks). */
export const MAINTENANCE_SCHEDULER_ID = 'maintenance';
