import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  SLACK_MAX_DELIVERIES,
  slackDeliveryGuard,
  slackTeamOf,
  withoutSecrets,
} from '../../bot/slack/delivery-guard.ts';

describe('the Slack delivery guard', () => {
  it('reads the team of each kind of request as Bolt does', () => {
    expect(slackTeamOf({ type: 'event_callback', team_id: 'T9', authorizations: [{ team_id: 'T1' }] })).toBe(
      'T1',
    );
    expect(slackTeamOf({ type: 'event_callback', team_id: 'T2' })).toBe('T2');
    expect(slackTeamOf({ command: '/spine', team_id: 'T3' })).toBe('T3');
    expect(slackTeamOf({ type: 'block_actions', team: { id: 'T4' }, user: { team_id: 'T5' } })).toBe('T4');
    expect(slackTeamOf({ type: 'block_actions', team: null, user: { team_id: 'T5' } })).toBe('T5');
    expect(
      slackTeamOf({ type: 'view_submission', view: { app_installed_team_id: 'T6' }, team: { id: 'T7' } }),
    ).toBe('T6');
    expect(slackTeamOf({ type: 'something_new' })).toBeUndefined();
  });

  it('drops the values that act as credentials, at any depth', () => {
    const body = {
      token: 'legacy',
      event: { text: 'hi', response_url: 'https://hooks.slack.com/x' },
      list: [{ trigger_id: '1.2.3', keep: true }],
    };
    expect(withoutSecrets(body)).toEqual({ event: { text: 'hi' }, list: [{ keep: true }] });
  });

  it('never waits for more deliveries than Slack makes', () => {
    const guard = (maxDeliveries?: number) =>
      slackDeliveryGuard({
        teamId: () => 'T1',
        deadLetters: undefined,
        logger: pino({ level: 'silent' }),
        maxDeliveries,
      }).maxDeliveries;
    expect(guard()).toBe(SLACK_MAX_DELIVERIES);
    expect(guard(10)).toBe(SLACK_MAX_DELIVERIES);
    expect(guard(2)).toBe(2);
    expect(guard(0)).toBe(1);
  });
});
