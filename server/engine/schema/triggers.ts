import { z } from 'zod';
import { anyCaseSchemas, secretName } from './common.ts';

const httpMethods = z.enum(['POST', 'PUT', 'GET']);
anyCaseSchemas.set(httpMethods, []);
const httpMethod = z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), httpMethods);

export const triggerTypes = ['manual', 'http', 'schedule'] as const;
export type TriggerType = (typeof triggerTypes)[number];

export const triggerDescriptions: Record<TriggerType, string> = {
  manual: 'Started by a person or the API.',
  http: 'Started by a signed webhook POST to /hooks/<path>.',
  schedule: 'Started on a cron schedule.',
};

const manualTrigger = z.strictObject({ type: z.literal('manual'), config: z.strictObject({}).optional() }).describe(triggerDescriptions.manual);

const httpTrigger = z
  .strictObject({
    type: z.literal('http'),
    config: z.strictObject({
      path: z
        .string()
        .regex(/^\/[A-Za-z0-9._~/-]*$/, { message: 'webhook paths start with / and use letters, digits, . _ ~ - and /' })
        .describe('Webhook path, served at /hooks<path>.'),
      method: httpMethod.default('POST').describe('HTTP method the hook accepts, in any case.'),
      secret: secretName.optional().describe('Secret used to check the X-Flowyard-Signature HMAC-SHA256 header.'),
    }),
  })
  .describe(triggerDescriptions.http);

const scheduleTrigger = z
  .strictObject({
    type: z.literal('schedule'),
    config: z.strictObject({
      cron: z.string().min(1).describe('Cron expression (5 or 6 fields), e.g. "0 3 * * *".'),
      timezone: z.string().default('UTC').describe('IANA time zone, e.g. Europe/Berlin.'),
    }),
  })
  .describe(triggerDescriptions.schedule);

export const triggerSchema = z.discriminatedUnion('type', [manualTrigger, httpTrigger, scheduleTrigger]);
export type Trigger = z.output<typeof triggerSchema>;

/** Top-level triggers name the pipeline they start. */
export const topLevelTriggerSchema = z.discriminatedUnion('type', [
  manualTrigger.extend({ pipeline: z.string().min(1).describe('Pipeline this trigger starts.') }),
  httpTrigger.extend({ pipeline: z.string().min(1).describe('Pipeline this trigger starts.') }),
  scheduleTrigger.extend({ pipeline: z.string().min(1).describe('Pipeline this trigger starts.') }),
]);
