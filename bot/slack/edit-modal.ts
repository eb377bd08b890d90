import type { EditableField } from '../approval-edit.ts';

export const EDIT_CALLBACK_ID = 'approval_edit';
export const EDIT_BUTTON_PREFIX = 'approval:edit:';

/** The button Slack adds next to Approve / Reject. */
export function editButtonAction(approvalId: number): string {
  return `${EDIT_BUTTON_PREFIX}${approvalId}`;
}

/** `approval:edit:<id>` → id; null for anything else. */
export function parseEditButton(action: string): number | null {
  const match = /^approval:edit:(\d{1,15})$/.exec(action);
  return match ? Number(match[1]) : null;
}

/** The modal: one text input per editable parameter; the approval id rides in private_metadata. */
export function editModal(
  approvalId: number,
  title: string,
  fields: EditableField[],
): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: EDIT_CALLBACK_ID,
    private_metadata: String(approvalId),
    title: { type: 'plain_text', text: `Edit approval #${approvalId}`.slice(0, 24) },
    submit: { type: 'plain_text', text: 'Save' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'context', elements: [{ type: 'plain_text', text: title.slice(0, 2000) }] },
      ...fields.map((field) => ({
        type: 'input',
        block_id: field.key,
        label: { type: 'plain_text', text: field.key },
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          multiline: field.multiline,
          initial_value: field.value.slice(0, 3000),
        },
      })),
    ],
  };
}

/** The submitted values by parameter key. */
export function submittedValues(state: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  const blocks =
    (state as { values?: Record<string, Record<string, { value?: string | null }>> } | undefined)?.values ??
    {};
  for (const [key, inputs] of Object.entries(blocks)) {
    const value = inputs.value?.value;
    if (typeof value === 'string') values[key] = value;
  }
  return values;
}
