/** Injection tokens the runtime provides to every service module. */
export const KAFKA = Symbol('kairos.kafka');
export const SERVICE_NAME = Symbol('kairos.service-name');
