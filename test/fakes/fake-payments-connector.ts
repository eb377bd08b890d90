import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';

/** Unpaid invoices as the payments connector returns them. */
export const UNPAID_INVOICES = [
  {
    id: 'in_1',
    number: 'A-1001',
    customerName: 'Dana Scully',
    customerEmail: 'dana@example.com',
    amountDue: 1200,
    currency: 'eur',
    dueDate: '2026-11-10',
    hostedInvoiceUrl: 'https://pay.example.com/in_1',
  },
  {
    id: 'in_2',
    number: 'A-1002',
    customerName: 'Fox Mulder',
    customerEmail: 'fox@example.com',
    amountDue: 800,
    currency: 'eur',
    dueDate: '2026-11-12',
    hostedInvoiceUrl: 'https://pay.example.com/in_2',
  },
];

/** A `payments` connector with the real one's `list_unpaid_invoices` shape, counting its calls. */
export function fakePaymentsConnector(): Connector & { calls: number } {
  const connector = {
    name: 'payments',
    description: 'Payments (fake)',
    calls: 0,
    operations: {
      list_unpaid_invoices: defineOperation({
        name: 'list_unpaid_invoices',
        description: 'List unpaid invoices',
        risk: 'read',
        reversible: false,
        external: true,
        retry: 'by_key',
        schema: z.object({ olderThanDays: z.number().optional(), limit: z.number().optional() }),
        simulate: () => ({
          title: 'List unpaid invoices',
          doing: 'listing unpaid invoices',
          done: 'listed unpaid invoices',
          fields: [],
        }),
        async execute() {
          connector.calls += 1;
          return { invoices: UNPAID_INVOICES };
        },
      }),
    },
  };
  return connector;
}
