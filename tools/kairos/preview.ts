import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatDefinitionError, PartialBody, TemplateBody, validateDefinitions } from '@kairos/definitions';
import { readDefinitionsFolder } from '@kairos/definitions-topic';
import { LinkProblem, previewTemplate } from '@kairos/dispatch-core';

export interface PreviewOptions {
  directory: string;
  templateId: string;
  profileFile?: string;
  eventFile?: string;
  /** Where the HTML goes; ./preview-<template>.html unless said otherwise. */
  outFile?: string;
  allowHttp: boolean;
  locale: string;
  timeZone: string;
}

export type PreviewResult =
  | { ok: true; subject: string; text?: string; htmlFile: string; problems: LinkProblem[]; links: number; sampled: string[] }
  | { ok: false; stage: 'definitions' | 'input' | 'render'; message: string };

/** The files around `previewTemplate` of @kairos/dispatch-core: the folder, the JSON inputs, the HTML output. */
export function previewFromFolder(options: PreviewOptions): PreviewResult {
  const report = validateDefinitions(readDefinitionsFolder(options.directory));
  const definition = report.definitions.find((candidate) => candidate.kind === 'template' && candidate.id === options.templateId);
  if (!definition) {
    const known = report.definitions.filter((candidate) => candidate.kind === 'template').map((candidate) => candidate.id);
    const errors = report.errors.filter((error) => error.file.includes(options.templateId)).map(formatDefinitionError);
    return { ok: false, stage: 'definitions', message: errors.length > 0 ? errors.join('\n') : `no template "${options.templateId}" in ${options.directory} (templates: ${known.join(', ') || 'none'})` };
  }
  const partials = Object.fromEntries(report.definitions.filter((candidate) => candidate.kind === 'partial').map((candidate) => [candidate.id, (candidate.body as PartialBody).source]));
  let profile: Record<string, unknown> | undefined;
  let event: Record<string, unknown> | undefined;
  try {
    if (options.profileFile) profile = readObject(options.profileFile);
    if (options.eventFile) {
      const file = readObject(options.eventFile);
      // Either the event's properties, or a whole event with `properties`.
      event = typeof file['properties'] === 'object' && file['properties'] !== null ? (file['properties'] as Record<string, unknown>) : file;
    }
  } catch (error) {
    return { ok: false, stage: 'input', message: (error as Error).message };
  }
  const preview = previewTemplate({
    template: definition.body as TemplateBody,
    partials,
    ...(profile ? { profile } : {}),
    ...(event ? { event } : {}),
    allowHttp: options.allowHttp,
    locale: options.locale,
    timeZone: options.timeZone,
  });
  if (!preview.ok) return { ok: false, stage: 'render', message: `${preview.reason}${preview.part ? ` in ${preview.part}` : ''}: ${preview.message}` };
  const htmlFile = resolve(options.outFile ?? `preview-${options.templateId}.html`);
  writeFileSync(htmlFile, preview.html);
  return { ok: true, subject: preview.subject, ...(preview.text === undefined ? {} : { text: preview.text }), htmlFile, problems: preview.problems, links: preview.links, sampled: preview.sampled };
}

function readObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}
