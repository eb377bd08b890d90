-- The web console (README.md, "Web console"): one-time login links sent in chat, and browser
-- sessions. Only hashes of the secrets are stored: a leaked row cannot be replayed.

-- A login link: single use, short-lived, for one of the operator's chat identities.
CREATE TABLE console_login_tokens (
  token_hash   text PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  channel      text   NOT NULL,
  external_id  text   NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);

-- A browser session (the cookie holds the id; the row holds its hash).
CREATE TABLE console_sessions (
  id_hash      text PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  channel      text   NOT NULL,
  external_id  text   NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  ended_at     timestamptz
);
CREATE INDEX console_sessions_operator_idx ON console_sessions (operator_id);
