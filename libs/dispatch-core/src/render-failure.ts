/** Which file of a template failed. */
export type MessagePart = 'subject' | 'html' | 'text';

/**
 * Why a message could not be rendered. A failure is recorded as such; the service never sends a blank or half mail.
 * - syntax, unknown-helper, missing-partial, unescaped-output: the template itself is wrong (publish-time validation
 *   should have caught it; a record written by another tool is checked here again);
 * - iteration-limit, partial-limit, output-limit: a runaway template or context, stopped before it stalls the service;
 * - invalid-value: a helper got a value it cannot format (a price that is not a number, an unknown currency);
 * - invalid-option: the locale or time zone the service passed is not one Intl knows;
 * - empty-output: the subject or HTML came out blank;
 * - runtime-error: anything else Handlebars threw.
 */
export type RenderFailureReason =
  | 'syntax'
  | 'unknown-helper'
  | 'missing-partial'
  | 'unescaped-output'
  | 'iteration-limit'
  | 'partial-limit'
  | 'output-limit'
  | 'invalid-value'
  | 'invalid-option'
  | 'empty-output'
  | 'runtime-error';

export interface RenderFailure {
  ok: false;
  reason: RenderFailureReason;
  /** Absent when the failure concerns the whole message (an invalid option). */
  part?: MessagePart;
  message: string;
}

/** Thrown inside a render (by a helper or a limit) and turned into a RenderFailure by renderMessage. */
export class RenderError extends Error {
  constructor(
    readonly reason: RenderFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'RenderError';
  }
}
