import type { Logger } from 'pino';
import type { CalendarProvider } from '../connectors/calendar/calendar-connector.ts';
import type { Connector } from '../connectors/connector.ts';
import { createEmailConnector } from '../connectors/email/email-connector.ts';
import { FileEmailTransport } from '../connectors/email/file-transport.ts';
import { SmtpEmailTransport } from '../connectors/email/smtp-transport.ts';
import { createWebhookConnector } from '../connectors/webhook/webhook-connector.ts';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Config } from './config.ts';

/** The built-in and configured connectors (memory excepted), and the calendar for the digest. */
export interface BuiltConnectors {
  connectors: Connector[];
  calendar: CalendarProvider | undefined;
  /** Configured connectors that could not start (e.g. an MCP server that did not answer). */
  unavailable: Array<{ name: string; error: string }>;
}

/** Build every connector the configuration names. With no config file: e-mail to the file outbox. */
export async function buildConnectors(
  config: Config,
  clock: Clock,
  logger: Logger,
): Promise<BuiltConnectors> {
  const settings = config.connectors;
  const from = settings.email.from ?? config.email.from;
  const connectors: Connector[] = [];
  const unavailable: BuiltConnectors['unavailable'] = [];
  if (settings.email.transport === 'smtp' && settings.email.smtp) {
    const transport = new SmtpEmailTransport(settings.email.smtp);
    connectors.push(createEmailConnector({ from, transport, clock, close: () => transport.close() }));
  } else {
    connectors.push(
      createEmailConnector({ from, transport: new FileEmailTransport(config.email.outboxDir), clock }),
    );
  }
  let calendar: CalendarProvider | undefined;
  if (settings.calendar) {
    // Loaded only when configured: tsdav and the MCP SDK are large, and most starts need neither.
    const { CalDavClient } = await import('../connectors/calendar/caldav-client.ts');
    const { createCalendarConnector } = await import('../connectors/calendar/calendar-connector.ts');
    const connector = createCalendarConnector({
      client: new CalDavClient(settings.calendar),
      clock,
      timezone: config.operator.timezone,
    });
    connectors.push(connector);
    calendar = connector.provider;
  }
  for (const webhook of settings.webhooks) {
    connectors.push(
      createWebhookConnector(
        {
          name: webhook.name,
          description: webhook.description,
          request: { url: webhook.url, method: webhook.method, headers: webhook.headers },
          secret: webhook.secret,
          risk: webhook.risk,
          idempotent: webhook.idempotent,
          undo: webhook.undo,
        },
        clock,
      ),
    );
  }
  if (config.inbound.stripe) {
    // Loaded only when configured: the Stripe SDK is large.
    const { createPaymentsConnector } = await import('../connectors/payments/payments-connector.ts');
    const { createStripeClient } = await import('../connectors/payments/stripe-client.ts');
    connectors.push(createPaymentsConnector({ stripe: createStripeClient(config.inbound.stripe), clock }));
  }
  const mcp = settings.mcp.length > 0 ? await import('../connectors/mcp/mcp-connector.ts') : null;
  for (const server of settings.mcp) {
    if (!mcp) break;
    const { connectMcpServer } = mcp;
    try {
      connectors.push(await connectMcpServer(server));
    } catch (error) {
      // One broken MCP server must not keep Spine from starting; `spine connectors` shows it.
      logger.error({ err: describeError(error), server: server.name }, 'an MCP server is unavailable');
      unavailable.push({ name: server.name, error: describeError(error) });
    }
  }
  return { connectors, calendar, unavailable };
}
