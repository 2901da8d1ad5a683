import { Inject, Injectable } from '@nestjs/common';
import { EmailDispatchRequest } from '@kairos/contracts';
import { DefinitionSet, PartialBody, TemplateBody } from '@kairos/definitions';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { ComposedMail, composeMail, engagementUrl, MessageContext, renderMessage, trackLinks } from '@kairos/dispatch-core';
import { DISPATCH_SETTINGS, DispatchSettings } from '../dispatch.settings';

export type Composition =
  | { ok: true; mail: ComposedMail; links: Array<{ index: number; url: string }>; templateVersion: number }
  | { ok: false; detail: string };

/** The recipient of an e-mail request: `to`, else the profile's email trait. */
export function recipientOf(request: EmailDispatchRequest): string | undefined {
  // An erased row has no context any more (ApplyErasuresUseCase): then there is no recipient either.
  const address = request.to ?? (request.context as EmailDispatchRequest['context'] | undefined)?.profile?.['email'];
  return typeof address === 'string' && address.length > 0 ? address : undefined;
}

/**
 * A request and the template definition in force become the mail to send: rendered (escaped, bounded), links signed
 * and tracked, headers composed (Message-ID from the dispatch id, RFC 8058 one-click for marketing mail). Any
 * failure is a typed detail for a recorded render failure — never a blank or half mail.
 */
@Injectable()
export class MessageComposer {
  private partialsFrom: DefinitionSet | undefined;
  private partials: Record<string, string> = {};

  constructor(
    @Inject(DefinitionsFollower) private readonly definitions: DefinitionsFollower,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
  ) {}

  compose(request: EmailDispatchRequest): Composition {
    const set = this.definitions.current();
    const live = set.get(`template/${request.templateId}`);
    if (!live) return { ok: false, detail: `unknown-template: no template "${request.templateId}" is published` };
    const template = live.definition.body as TemplateBody;
    const to = recipientOf(request);
    if (!to) return { ok: false, detail: 'no-recipient: the request has no `to` and the profile no email trait' };

    const { settings } = this;
    const ids = { profileId: request.profileId, dispatchId: request.dispatchId };
    const unsubscribeUrl = engagementUrl(settings.publicUrl, { purpose: 'unsubscribe', ...ids }, settings.keys);
    const context: MessageContext = {
      profile: request.context.profile,
      ...(request.context.event?.properties ? { event: request.context.event.properties } : {}),
      ...(request.context.journey ? { journey: { id: request.context.journey.id }, step: request.context.journey.step } : {}),
      ...(request.context.journey?.variant ? { variant: request.context.journey.variant } : {}),
      unsubscribeUrl,
      // The same unsubscribe token on the preferences page, which changes nothing on GET.
      preferencesUrl: `${settings.publicUrl}/preferences/${unsubscribeUrl.slice(unsubscribeUrl.lastIndexOf('/') + 1)}`,
      ...('confirmUrl' in template.context ? { confirmUrl: engagementUrl(settings.publicUrl, { purpose: 'confirm', ...ids }, settings.keys) } : {}),
    };
    const rendered = renderMessage(template, this.partialsOf(set), context, {
      locale: request.context.locale ?? settings.defaultLocale,
      timeZone: request.context.timeZone ?? settings.defaultTimeZone,
    });
    if (!rendered.ok) return { ok: false, detail: `${rendered.reason} (${rendered.part ?? 'options'}): ${rendered.message}` };

    // Opens are tracked on marketing mail only; a confirmation or receipt carries no pixel.
    const tracked = trackLinks(rendered.message.html, { ...ids, keys: settings.keys, baseUrl: settings.publicUrl, openPixel: request.purpose === 'marketing' });
    const replyTo = request.sender?.replyTo ?? template.replyTo;
    const composed = composeMail({
      dispatchId: request.dispatchId,
      purpose: request.purpose,
      // The journey's sender over the template's, field by field, over dispatch's defaults.
      from: request.sender?.from ?? template.from ?? settings.defaultFrom,
      ...(replyTo ? { replyTo } : {}),
      to: { name: nameOf(request.context.profile), address: to },
      sendingDomain: request.sender?.sendingDomain ?? template.sendingDomain ?? settings.sendingDomain,
      message: { ...rendered.message, html: tracked.html },
      ...(request.purpose === 'marketing' ? { unsubscribe: { url: unsubscribeUrl, ...(settings.unsubscribeMailto ? { mailto: settings.unsubscribeMailto } : {}) } } : {}),
      allowInsecureUnsubscribe: settings.allowHttpLinks,
    });
    if (!composed.ok) return { ok: false, detail: `${composed.reason}: ${composed.message}` };
    return { ok: true, mail: composed.mail, links: tracked.links, templateVersion: live.record.version };
  }

  private partialsOf(set: DefinitionSet): Record<string, string> {
    if (this.partialsFrom !== set) {
      this.partials = Object.fromEntries(
        set
          .all()
          .filter((live) => live.definition.kind === 'partial')
          .map((live) => [live.definition.id, (live.definition.body as PartialBody).source]),
      );
      this.partialsFrom = set;
    }
    return this.partials;
  }
}

function nameOf(profile: Record<string, unknown>): string {
  const parts = [profile['firstName'], profile['lastName']].filter((part): part is string => typeof part === 'string' && part.length > 0);
  return parts.join(' ').slice(0, 200);
}
