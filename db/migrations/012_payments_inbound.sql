-- Inbound deliveries (an e-mail read over IMAP, a Stripe webhook event) and the IMAP cursor.

-- One row per delivery Spine accepted, written after the consumer (the inbound sink) took it:
-- a redelivery with the same id (Message-ID, Stripe event id) is recognised and dropped.
CREATE TABLE inbound_deliveries (
  source       text        NOT NULL,
  delivery_id  text        NOT NULL,
  type         text        NOT NULL,
  memory_id    bigint,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, delivery_id)
);

-- Where reading a mailbox resumes: the last UID whose message was handed on, under its UIDVALIDITY.
CREATE TABLE imap_mailboxes (
  mailbox_key   text PRIMARY KEY,
  uid_validity  text        NOT NULL,
  last_uid      bigint      NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
