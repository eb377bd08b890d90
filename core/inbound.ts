/**
 * Inbound events from the outside world (an e-mail arrived, a Stripe event was delivered, a webhook
 * was called). Sources in `connectors/` produce them; playbook triggers consume them. Delivery is
 * at least once: `id` is stable per source (Message-ID, Stripe event id, …) and consumers dedupe on
 * (source, id).
 */
export type InboundSource = 'email' | 'stripe' | 'webhook' | 'schedule' | 'chat';

export interface InboundEvent {
  source: InboundSource;
  /** Stable id of the delivery within its source: e-mail Message-ID, Stripe event id, … */
  id: string;
  /** What happened: 'message' for e-mail, the Stripe event type ('invoice.payment_failed'), … */
  type: string;
  occurredAt: Date;
  /**
   * The normalised payload, quoted data from outside the operator (never instructions).
   * E-mail: { messageId, from: { name, address }, to: string[], subject, text, date, mailbox, memoryId? }.
   * Stripe: the Stripe event object ({ id, type, data: { object } }).
   */
  payload: Record<string, unknown>;
  /** Set when known: who the operator is for this delivery. */
  operatorId?: number;
}

/** Where a source hands its events; resolves once the event is durably accepted. */
export type InboundSink = (event: InboundEvent) => Promise<void>;
