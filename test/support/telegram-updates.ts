import { FAKE_BOT } from '../fakes/fake-telegram-api.ts';
import { TELEGRAM_WEBHOOK_SECRET } from './chat-app.ts';

let updateId = 700_000;
let messageId = 100;

/** A text message update as Telegram sends it (private chat unless `chatId` < 0). */
export function textUpdate(input: {
  text: string;
  from?: number;
  chatId?: number;
  updateId?: number;
  replyToBot?: boolean;
}): Record<string, unknown> {
  updateId += 1;
  messageId += 1;
  const from = input.from ?? 456;
  const chatId = input.chatId ?? from;
  return {
    update_id: input.updateId ?? updateId,
    message: {
      message_id: messageId,
      from: { id: from, is_bot: false, first_name: 'Ada', username: 'ada', language_code: 'en' },
      chat:
        chatId < 0
          ? { id: chatId, title: 'Team', type: 'supergroup' }
          : { id: chatId, first_name: 'Ada', username: 'ada', type: 'private' },
      date: Math.floor(Date.now() / 1000),
      text: input.text,
      ...(input.replyToBot
        ? {
            reply_to_message: {
              message_id: 1,
              from: FAKE_BOT,
              chat: { id: chatId, type: 'supergroup' },
              date: 1,
              text: 'x',
            },
          }
        : {}),
    },
  };
}

/** A private message carrying a document (`addFile` it on the fake API first). */
export function documentUpdate(input: {
  fileId: string;
  fileName: string;
  fileSize: number;
  from?: number;
}): Record<string, unknown> {
  const update = textUpdate({ text: '', ...(input.from ? { from: input.from } : {}) });
  const message = update.message as Record<string, unknown>;
  delete message.text;
  message.document = {
    file_id: input.fileId,
    file_unique_id: `u-${input.fileId}`,
    file_name: input.fileName,
    mime_type: 'text/markdown',
    file_size: input.fileSize,
  };
  return update;
}

/** A button press on an inline keyboard. */
export function callbackUpdate(input: {
  data: string;
  from?: number;
  chatId?: number;
  messageId: number;
}): Record<string, unknown> {
  updateId += 1;
  const from = input.from ?? 456;
  const chatId = input.chatId ?? 456;
  return {
    update_id: updateId,
    callback_query: {
      id: `cbq-${updateId}`,
      from: { id: from, is_bot: false, first_name: 'Ada' },
      message: {
        message_id: input.messageId,
        from: FAKE_BOT,
        chat: { id: chatId, type: 'private' },
        date: 1,
        text: 'card',
      },
      chat_instance: '-123',
      data: input.data,
    },
  };
}

/** POST an update to Spine's webhook; the secret header is sent unless `secret` is null. */
export async function postToTelegram(
  baseUrl: string,
  body: string | Record<string, unknown>,
  secret: string | null = TELEGRAM_WEBHOOK_SECRET,
): Promise<Response> {
  return fetch(`${baseUrl}/telegram/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
