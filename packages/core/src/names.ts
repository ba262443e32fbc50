import { invalidArgument } from './errors.js';

const serviceName = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const endpointName = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const topicName = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const queueName = /^[A-Za-z0-9_-]+$/;

function check(kind: string, pattern: RegExp, value: unknown, max = 128): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !pattern.test(value)) {
    throw invalidArgument(
      `invalid ${kind} name ${JSON.stringify(value)}: use letters, digits, '_' and '-', segments joined by '.', at most ${max} characters`,
      { [kind]: value },
    );
  }
  return value;
}

/** Service names are dot-separated segments of letters, digits, '_' and '-' (safe as NATS subjects and Redis keys). */
export const checkServiceName = (value: unknown): string => check('service', serviceName, value);
export const checkEndpointName = (value: unknown): string => check('endpoint', endpointName, value);
export const checkTopic = (value: unknown): string => check('topic', topicName, value, 256);
export const checkQueue = (value: unknown): string => check('queue', queueName, value);
